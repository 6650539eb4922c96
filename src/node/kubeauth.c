/* SPDX-License-Identifier: MIT */
/* Authentication and authorisation of kubelet-endpoint requests (kubeauth.h). */
#include "kubeauth.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

#define CACHE_N 256
#define TOKEN_TTL_NS (120LL * 1000000000)
#define ALLOW_TTL_NS (300LL * 1000000000)
#define DENY_TTL_NS (30LL * 1000000000)

struct entry {
        char *key; /* NULL = free */
        int64_t expires_ns;
        int verdict; /* token: 1 authenticated, 0 not; access: 1 allowed, 0 denied */
        struct ferry_kubeauth_id id; /* token entries */
        char reason[160];
};

struct ferry_kubeauth {
        struct ferry_kube *kube;
        char *node;
        pthread_mutex_t lock;
        struct entry cache[CACHE_N];
};

struct ferry_kubeauth *ferry_kubeauth_new(struct ferry_kube *kube, const char *node)
{
        struct ferry_kubeauth *a = ferry_xcalloc(1, sizeof(*a));
        a->kube = kube;
        a->node = ferry_xstrdup(node);
        pthread_mutex_init(&a->lock, NULL);
        return a;
}

void ferry_kubeauth_free(struct ferry_kubeauth *a)
{
        if (!a)
                return;
        for (size_t i = 0; i < CACHE_N; i++)
                free(a->cache[i].key);
        pthread_mutex_destroy(&a->lock);
        free(a->node);
        free(a);
}

/* A copy of the live entry for key into *ret; false when none. */
static bool cache_get(struct ferry_kubeauth *a, const char *key, struct entry *ret)
{
        int64_t now = ferry_monotonic_ns();
        bool hit = false;
        pthread_mutex_lock(&a->lock);
        for (size_t i = 0; i < CACHE_N && !hit; i++) {
                struct entry *e = &a->cache[i];
                if (e->key && e->expires_ns > now && strcmp(e->key, key) == 0) {
                        *ret = *e;
                        ret->key = NULL;
                        hit = true;
                }
        }
        pthread_mutex_unlock(&a->lock);
        return hit;
}

/* Store e under key: in a free or expired slot, else over the one expiring first. */
static void cache_put(struct ferry_kubeauth *a, const char *key, const struct entry *e,
                      int64_t ttl_ns)
{
        int64_t now = ferry_monotonic_ns();
        pthread_mutex_lock(&a->lock);
        struct entry *slot = &a->cache[0];
        for (size_t i = 0; i < CACHE_N; i++) {
                struct entry *c = &a->cache[i];
                if (!c->key || c->expires_ns <= now || strcmp(c->key, key) == 0) {
                        slot = c;
                        break;
                }
                if (c->expires_ns < slot->expires_ns)
                        slot = c;
        }
        free(slot->key);
        *slot = *e;
        slot->key = ferry_xstrdup(key);
        slot->expires_ns = now + ttl_ns;
        pthread_mutex_unlock(&a->lock);
}

const char *ferry_kubeauth_subresource(const char *path)
{
        /* as the kubelet's server/auth.go: everything else is proxy */
        if (strcmp(path, "/metrics") == 0 || ferry_str_startswith(path, "/metrics/"))
                return "metrics";
        if (strcmp(path, "/stats") == 0 || ferry_str_startswith(path, "/stats/"))
                return "stats";
        if (strcmp(path, "/logs") == 0 || ferry_str_startswith(path, "/logs/"))
                return "log";
        if (strcmp(path, "/spec") == 0 || ferry_str_startswith(path, "/spec/"))
                return "spec";
        return "proxy";
}

static const char *verb_of(const char *method)
{
        static const struct {
                const char *method, *verb;
        } map[] = {{"GET", "get"},     {"HEAD", "get"},      {"POST", "create"}, {"PUT", "update"},
                   {"PATCH", "patch"}, {"DELETE", "delete"}, {"OPTIONS", "get"}};
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(map); i++)
                if (strcmp(map[i].method, method) == 0)
                        return map[i].verb;
        return "get";
}

/* TokenReview: who is the bearer of token? */
static int review_token(struct ferry_kubeauth *a, const char *token, struct ferry_kubeauth_id *ret,
                        char *msg, size_t msg_n)
{
        unsigned char sum[32];
        char key[2 + 2 * sizeof(sum) + 1] = "t:";
        struct entry e = {0};

        if (gnutls_hash_fast(GNUTLS_DIG_SHA256, token, strlen(token), sum) < 0)
                return -EAGAIN;
        for (size_t i = 0; i < sizeof(sum); i++)
                snprintf(key + 2 + 2 * i, 3, "%02x", sum[i]);
        if (!cache_get(a, key, &e)) {
                ferry_error_t err = {{0}};
                json_t *out = NULL;
                json_t *req =
                    json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "authentication.k8s.io/v1",
                              "kind", "TokenReview", "spec", "token", token);
                int r = ferry_kube_create(a->kube, "/apis/authentication.k8s.io/v1/tokenreviews",
                                          req, &out, &err);
                json_decref(req);
                if (r < 0) {
                        snprintf(msg, msg_n, "cannot review the token with the API server: %s",
                                 err.text);
                        log_warn("kubelet endpoint: %s", msg);
                        return -EAGAIN;
                }
                json_t *st = json_object_get(out, "status");
                json_t *user = json_object_get(st, "user");
                const char *name = json_string_value(json_object_get(user, "username"));
                e.verdict = json_is_true(json_object_get(st, "authenticated")) && name && *name;
                if (e.verdict) {
                        snprintf(e.id.user, sizeof(e.id.user), "%s", name);
                        json_t *g = json_object_get(user, "groups");
                        for (size_t i = 0;
                             i < json_array_size(g) && e.id.n_groups < FERRY_KUBEAUTH_GROUPS_MAX;
                             i++)
                                if (json_is_string(json_array_get(g, i)))
                                        snprintf(e.id.groups[e.id.n_groups++],
                                                 sizeof(e.id.groups[0]), "%s",
                                                 json_string_value(json_array_get(g, i)));
                }
                json_decref(out);
                cache_put(a, key, &e, e.verdict ? TOKEN_TTL_NS : DENY_TTL_NS);
        }
        if (!e.verdict) {
                snprintf(msg, msg_n, "Unauthorized: the API server does not know this token");
                return -EKEYREJECTED;
        }
        *ret = e.id;
        return 0;
}

/* SubjectAccessReview: may id do verb on nodes/<sub> of this node? */
static int review_access(struct ferry_kubeauth *a, const struct ferry_kubeauth_id *id,
                         const char *verb, const char *sub, char *msg, size_t msg_n)
{
        struct ferry_buf k = FERRY_BUF_INIT;
        struct entry e = {0};
        int r = 0;

        ferry_buf_printf(&k, "s:%s\x1f%s\x1f%s", verb, sub, id->user);
        for (size_t i = 0; i < id->n_groups; i++)
                ferry_buf_printf(&k, "\x1f%s", id->groups[i]);
        if (!cache_get(a, k.data, &e)) {
                ferry_error_t err = {{0}};
                json_t *out = NULL, *groups = json_array();
                for (size_t i = 0; i < id->n_groups; i++)
                        json_array_append_new(groups, json_string(id->groups[i]));
                json_t *req =
                    json_pack("{s:s, s:s, s:{s:s, s:o, s:{s:s, s:s, s:s, s:s}}}", "apiVersion",
                              "authorization.k8s.io/v1", "kind", "SubjectAccessReview", "spec",
                              "user", id->user, "groups", groups, "resourceAttributes", "verb",
                              verb, "resource", "nodes", "subresource", sub, "name", a->node);
                r = ferry_kube_create(a->kube, "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                                      req, &out, &err);
                json_decref(req);
                if (r < 0) {
                        snprintf(msg, msg_n, "cannot review access with the API server: %s",
                                 err.text);
                        log_warn("kubelet endpoint: %s", msg);
                        r = -EAGAIN;
                        goto out;
                }
                json_t *st = json_object_get(out, "status");
                e.verdict = json_is_true(json_object_get(st, "allowed")) &&
                            !json_is_true(json_object_get(st, "denied"));
                const char *why = json_string_value(json_object_get(st, "reason"));
                snprintf(e.reason, sizeof(e.reason), "%s", why ? why : "");
                json_decref(out);
                cache_put(a, k.data, &e, e.verdict ? ALLOW_TTL_NS : DENY_TTL_NS);
        }
        if (!e.verdict) {
                /* the kubelet's own wording */
                snprintf(msg, msg_n,
                         "Forbidden (user=%s, verb=%s, resource=nodes, subresource=%s)%s%s",
                         id->user, verb, sub, e.reason[0] ? ": " : "", e.reason);
                r = -EACCES;
        }
out:
        ferry_buf_free(&k);
        return r;
}

int ferry_kubeauth_check(struct ferry_kubeauth *a, const struct ferry_kubeauth_id *cert,
                         const char *bearer, const char *method, const char *path, char *msg,
                         size_t msg_n)
{
        struct ferry_kubeauth_id id;
        int r;

        if (cert) {
                id = *cert;
        } else if (bearer && *bearer) {
                if ((r = review_token(a, bearer, &id, msg, msg_n)) < 0)
                        return r;
        } else {
                snprintf(msg, msg_n,
                         "Unauthorized: present a client certificate signed by the cluster's "
                         "kubelet client CA, or a bearer token");
                return -EKEYREJECTED;
        }
        return review_access(a, &id, verb_of(method), ferry_kubeauth_subresource(path), msg, msg_n);
}
