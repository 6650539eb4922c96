/* SPDX-License-Identifier: MIT */
/*
 * kube-apiserver-double: a Kubernetes API server double for ferry-node's tests.
 * See doc/kube-double.md for what it implements and how faithful it is.
 *
 * Ownership: the store owns every stored object. Stored objects are immutable
 * jansson values (a write stores a new value), so the watch history and list
 * snapshots share them by reference. One mutex (store.mu) guards the store, the
 * history and the request counters; writes broadcast store.cv to wake watches.
 */
#ifndef KD_DOUBLE_H
#define KD_DOUBLE_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

#define KD_MAX_BODY (3u * 1024 * 1024) /* the real API's request size limit */
#define KD_MAX_OBJECTS 200000u
#define KD_MAX_SELECTOR_REQS 32
#define KD_MAX_SELECTOR_VALUES 32
#define KD_MAX_SELECTOR_LEN 4096
#define KD_NAME_MAX 254

/* ---- errors: everything a failing request needs to answer a real Status ---- */
struct kd_err {
        unsigned code;      /* HTTP code */
        const char *reason; /* NotFound, AlreadyExists, Conflict, ... */
        char message[768];
        char name[KD_NAME_MAX]; /* details.name */
        const char *kind;       /* details.kind (resource plural, or Kind for Invalid) */
        const char *group;      /* details.group */
        const char *field;      /* details.causes[0].field for Invalid */
        char cause[400];        /* details.causes[0].message for Invalid */
};
/* Fill e and return -1. */
int kd_fail(struct kd_err *e, unsigned code, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A Status object for e (new reference). */
json_t *kd_status_json(const struct kd_err *e);

/* ---- resource table ---- */
enum kd_res {
        KD_NAMESPACES,
        KD_NODES,
        KD_PODS,
        KD_CONFIGMAPS,
        KD_SECRETS,
        KD_SERVICEACCOUNTS,
        KD_EVENTS,
        KD_EVENTS_V1,
        KD_LEASES,
        KD_RES_MAX
};
struct kd_resource {
        const char *group; /* "" for the core group */
        const char *version;
        const char *plural;
        const char *singular;
        const char *kind;
        const char *list_kind;
        const char *short_names;  /* comma-separated, for discovery; may be NULL */
        const char *subresources; /* comma-separated: "status", "token", "binding" */
        bool namespaced;
        bool returns_deleted_object; /* DELETE answers the object, not a Status */
        const char *const *fields;   /* field selector labels beyond metadata.name/namespace */
};
extern const struct kd_resource kd_resources[KD_RES_MAX];
/* "pods" or "leases.coordination.k8s.io", as the real API's messages say. */
const char *kd_res_qualified(enum kd_res r, char *buf, size_t n);
int kd_res_find(const char *group, const char *version, const char *plural);
int kd_res_find_kind(const char *api_version, const char *kind);
const char *kd_api_version(enum kd_res r, char *buf, size_t n);

/* ---- selectors ---- */
enum kd_sel_op { KD_SEL_EQ, KD_SEL_NEQ, KD_SEL_IN, KD_SEL_NOTIN, KD_SEL_EXISTS, KD_SEL_NOTEXISTS };
struct kd_sel_req {
        char *key;
        enum kd_sel_op op;
        size_t n_values;
        char *values[KD_MAX_SELECTOR_VALUES];
};
struct kd_selector {
        size_t n;
        struct kd_sel_req reqs[KD_MAX_SELECTOR_REQS];
};
int kd_label_selector_parse(const char *s, struct kd_selector *ret, struct kd_err *e);
int kd_field_selector_parse(enum kd_res r, const char *s, struct kd_selector *ret,
                            struct kd_err *e);
void kd_selector_free(struct kd_selector *s);
bool kd_label_selector_matches(const struct kd_selector *s, const json_t *obj);
bool kd_field_selector_matches(const struct kd_selector *s, const json_t *obj);

/* ---- patches (patch.c) ---- */
/* RFC 7386 JSON merge patch: returns a new value (target is not modified). */
json_t *kd_merge_patch(const json_t *target, const json_t *patch);
/* Strategic merge patch for the fields a kubelet patches (see doc/kube-double.md). */
json_t *kd_strategic_merge_patch(const json_t *target, const json_t *patch, struct kd_err *e);
/* RFC 6902 JSON patch. NULL and e filled on failure. */
json_t *kd_json_patch(const json_t *target, const json_t *patch, struct kd_err *e);

/* ---- the store (store.c) ---- */
enum kd_ev_type { KD_EV_ADDED, KD_EV_MODIFIED, KD_EV_DELETED };
struct kd_event {
        uint64_t rv;
        enum kd_res res;
        enum kd_ev_type type;
        json_t *obj;  /* the object after the write (the last state for DELETED) */
        json_t *prev; /* the object before the write; NULL for ADDED */
};

struct kd_store {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        uint64_t rv;           /* the global resourceVersion: last write */
        uint64_t compacted_rv; /* history holds every event with rv > compacted_rv */
        size_t history_cap;
        struct kd_event *history;               /* ring: event rv r lives at r % history_cap */
        struct ferry_hashmap *objs[KD_RES_MAX]; /* "ns/name" -> struct kd_obj */
        size_t n_objs;
        bool stopping;
        json_t *counts; /* "VERB resource[/sub]" -> count */
        json_t *tokens; /* TokenRequests issued (for /debug/tokens) */
        char *ca_pem;   /* published as kube-root-ca.crt */
};

struct kd_obj {
        char key[2 * KD_NAME_MAX + 2];
        json_t *obj;
};

int kd_store_init(struct kd_store *s, size_t history_cap);
void kd_store_fini(struct kd_store *s);
/* All below: caller holds s->mu. */
json_t *kd_store_get(struct kd_store *s, enum kd_res r, const char *ns, const char *name);
/* Store obj (steals the reference) as a new version: sets metadata.resourceVersion,
 * records the event, wakes watches. Returns the stored object (borrowed). */
json_t *kd_store_put(struct kd_store *s, enum kd_res r, json_t *obj, enum kd_ev_type type);
/* Remove; records DELETED with the object at a new resourceVersion. */
void kd_store_remove(struct kd_store *s, enum kd_res r, const char *ns, const char *name);
/* Sorted (namespace, name) snapshot of the objects of r as of resourceVersion at_rv
 * (0: now). New array of borrowed-by-reference objects; NULL when at_rv is compacted. */
json_t *kd_store_snapshot(struct kd_store *s, enum kd_res r, uint64_t at_rv);
void kd_store_count(struct kd_store *s, const char *verb, const char *what);
/* Everything, as a v1 List of objects with kind and apiVersion. */
json_t *kd_store_dump(struct kd_store *s);

/* ---- object semantics (objects.c) ---- */
struct kd_ctx {
        struct kd_store *store;
        const char *ca_pem;
};
/* Create: validation, defaulting, admission (pods: service-account volume), namespace
 * existence. *ret is a new reference to the stored object. load: from --load (keep
 * uid/creationTimestamp/status as given). */
int kd_create(struct kd_store *s, enum kd_res r, const char *ns, json_t *obj, bool load,
              json_t **ret, struct kd_err *e);
/* Update (PUT or the result of a patch) of the object or of its status subresource. */
int kd_update(struct kd_store *s, enum kd_res r, const char *ns, const char *name, const char *sub,
              json_t *obj, json_t **ret, struct kd_err *e);
/* DELETE with options (may be NULL). *ret: the object (for returns_deleted_object
 * resources or a graceful deletion) or NULL for a Status Success. */
int kd_delete(struct kd_store *s, enum kd_res r, const char *ns, const char *name,
              const json_t *opts, json_t **ret, struct kd_err *e);
/* POST serviceaccounts/{name}/token. */
int kd_token_request(struct kd_store *s, const char *ns, const char *name, json_t *req,
                     json_t **ret, struct kd_err *e);
/* POST pods/{name}/binding. */
int kd_bind(struct kd_store *s, const char *ns, const char *name, json_t *binding,
            struct kd_err *e);
/* Namespaces default, kube-system, kube-public, kube-node-lease and their
 * kube-root-ca.crt ConfigMap and default ServiceAccount. */
void kd_bootstrap(struct kd_store *s);
/* Create the Namespace (and its controller-made objects) if it does not exist. */
void kd_ensure_namespace(struct kd_store *s, const char *ns);

/* ---- small helpers (objects.c) ---- */
const char *kd_meta_str(const json_t *obj, const char *field);
void kd_set_meta_str(json_t *obj, const char *field, const char *v);
void kd_now_rfc3339(char buf[FERRY_TIME_MAX]);
void kd_random_suffix(char *buf, size_t n);
char *kd_base64(const void *data, size_t len, bool url);
/* Value of a dotted path ("spec.nodeName") as a string; NULL when absent. */
const char *kd_path_str(const json_t *obj, const char *path, char *buf, size_t n);

/* ---- the HTTP(S) server (http.c) ---- */
struct kd_server_config {
        const char *listen;   /* "127.0.0.1:PORT" (0: any free port) or "unix:PATH" */
        const char *token;    /* bearer token clients must send; NULL: none */
        const char *cert_pem; /* TLS when set, with key_pem */
        const char *key_pem;
        const char *client_ca_pem; /* client certificates signed by it authenticate */
        unsigned watch_timeout_s;
        unsigned bookmark_interval_s;
        /* TokenReview: "TOKEN=USER[:GROUP,...]" each; the bearer --token is
         * user "admin" in system:masters */
        const char *const *identities;
        size_t n_identities;
        /* SubjectAccessReview: "user=NAME|group=NAME:VERB:RESOURCE[/SUB]" each
         * ("*" matches any verb or resource); system:masters may do anything */
        const char *const *allow;
        size_t n_allow;
};
struct kd_server;
/* Listen and serve. ret_url: "http(s)://127.0.0.1:PORT" or "unix:PATH". */
int kd_server_start(struct kd_store *st, const struct kd_server_config *cfg, struct kd_server **ret,
                    char *ret_url, size_t url_n, ferry_error_t *err);
/* Ends every watch, stops serving, frees. */
void kd_server_stop(struct kd_server *srv);

#endif
