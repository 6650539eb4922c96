/* SPDX-License-Identifier: MIT */
/*
 * The pod model: what a backend needs of an offloaded pod, parsed from the
 * interLink JSON bodies (hop A PodCreateRequests, hop B RetrievedPodData).
 *
 * Ownership: a struct ferry_pod owns every string and array inside it; free it
 * with ferry_pod_free(). Parsing is pure (no I/O) and bounded by
 * struct ferry_limits: every size a client controls has a limit.
 */
#ifndef FERRY_POD_H
#define FERRY_POD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "pod/probe.h"

struct ferry_limits {
        size_t max_body;         /* bytes of one request body */
        size_t max_status_body;  /* bytes of a /status body (whole v1.Pod objects) */
        size_t max_json_depth;   /* nesting of JSON values */
        size_t max_containers;   /* containers + init containers per pod */
        size_t max_env;          /* env entries per container */
        size_t max_env_bytes;    /* bytes of all env names+values per container */
        size_t max_args;         /* command + args entries per container */
        size_t max_volumes;      /* volumes per pod */
        size_t max_objects;      /* ConfigMaps + Secrets + projected maps per request */
        size_t max_object_bytes; /* decoded bytes of all volume data per pod */
        size_t max_annotations;  /* annotations + labels per pod */
        size_t max_status_batch; /* pods in one /status request */
        size_t max_log_tail;     /* Tail lines for /getLogs */
};
extern const struct ferry_limits ferry_default_limits;

struct ferry_env {
        char *name;
        char *value;
};

struct ferry_mount {
        char *name;       /* volume name */
        char *mount_path; /* absolute path inside the container */
        char *sub_path;   /* may be NULL */
        bool read_only;
};

/* Resource amounts, already converted from Kubernetes quantities. -1 = unset. */
struct ferry_resources {
        int64_t cpu_milli;
        int64_t memory_bytes;
        int64_t gpus;            /* nvidia.com/gpu */
        int64_t ephemeral_bytes; /* ephemeral-storage */
        /* other extended resources (nvidia.com/mig-1g.10gb, ...) as name/count */
        size_t n_extended;
        struct ferry_extended {
                char *name;
                int64_t count;
        } * extended;
};

struct ferry_container {
        char *name;
        char *image;
        char **command; /* NULL-terminated; NULL when unset (image entrypoint) */
        size_t n_command;
        char **args; /* NULL-terminated; NULL when unset */
        size_t n_args;
        char *working_dir; /* may be NULL */
        struct ferry_env *env;
        size_t n_env;
        struct ferry_mount *mounts;
        size_t n_mounts;
        struct ferry_resources limits, requests;
        bool is_init;
        /* securityContext.runAsUser / runAsGroup of this container, -1 = unset
         * (the pod's apply; see runner/podsec.h for what a site allows) */
        int64_t run_as_user, run_as_group;
        struct ferry_probes probes; /* probes and lifecycle hooks (pod/probe.h) */
        bool read_only_root;        /* securityContext.readOnlyRootFilesystem */
};

enum ferry_volume_kind {
        FERRY_VOL_EMPTYDIR,
        FERRY_VOL_CONFIGMAP,
        FERRY_VOL_SECRET,
        FERRY_VOL_PROJECTED,
        FERRY_VOL_HOSTPATH,
        FERRY_VOL_UNSUPPORTED,
};

struct ferry_key_path {
        char *key;
        char *path;
        int mode; /* -1 = volume default */
};

struct ferry_volume {
        char *name;
        enum ferry_volume_kind kind;
        char *source;       /* ConfigMap name, Secret name, hostPath path; NULL otherwise */
        char *kind_name;    /* for UNSUPPORTED: the JSON key of the volume source */
        int default_mode;   /* file mode, default 0644 */
        int64_t size_limit; /* emptyDir.sizeLimit in bytes, -1 = none */
        bool optional;
        struct ferry_key_path *items; /* empty = all keys */
        size_t n_items;
};

/* A ConfigMap, Secret or flattened projected volume with its data decoded
 * (Secret data and ConfigMap binaryData are base64 in JSON; here raw bytes). */
struct ferry_object {
        char *name;
        size_t n;
        struct ferry_object_item {
                char *key;
                unsigned char *value;
                size_t len;
        } * items;
};

struct ferry_kv {
        char *key;
        char *value;
};

struct ferry_pod {
        char *uid;
        char *name;
        char *namespace;
        struct ferry_kv *annotations;
        size_t n_annotations;
        struct ferry_kv *labels;
        size_t n_labels;
        struct ferry_container *init; /* init containers, in order */
        size_t n_init;
        struct ferry_container *containers;
        size_t n_containers;
        struct ferry_volume *volumes;
        size_t n_volumes;
        struct ferry_object *configmaps;
        size_t n_configmaps;
        struct ferry_object *secrets;
        size_t n_secrets;
        struct ferry_object *projected; /* named after the volume */
        size_t n_projected;
        int64_t grace_seconds;    /* terminationGracePeriodSeconds, default 30 */
        int64_t deadline_seconds; /* activeDeadlineSeconds, -1 = none */
        int64_t priority;         /* spec.priority (set by the API server from the
                                   * PriorityClass), default 0 */
        char *restart_policy;
        /* spec.securityContext: runAsUser, runAsGroup, fsGroup; -1 = unset */
        int64_t run_as_user, run_as_group, fs_group;
};

enum ferry_body_kind {
        FERRY_BODY_CREATE_A, /* hop A PodCreateRequests */
        FERRY_BODY_CREATE_B, /* hop B RetrievedPodData (object or one-element array) */
        FERRY_BODY_POD,      /* a bare Pod (/delete, /updateCache) */
};

/* Parse a request body. On error returns -EINVAL (malformed or invalid: err
 * says where and why, with line and column for JSON syntax), -E2BIG (a limit
 * was exceeded: err names it). A pod without uid gets -EINVAL. */
int ferry_pod_parse(const char *body, size_t len, enum ferry_body_kind kind,
                    const struct ferry_limits *lim, struct ferry_pod **ret, ferry_error_t *err);

/* Parse only what identifies a pod (uid, name, namespace) from a Pod JSON
 * value given as text; used for /status, /delete. */
void ferry_pod_free(struct ferry_pod *pod);

/* Helpers over the model. */
const struct ferry_volume *ferry_pod_volume(const struct ferry_pod *pod, const char *name);
const struct ferry_object *ferry_pod_configmap(const struct ferry_pod *pod, const char *name);
const struct ferry_object *ferry_pod_secret(const struct ferry_pod *pod, const char *name);
const struct ferry_object *ferry_pod_projected(const struct ferry_pod *pod, const char *name);
const char *ferry_pod_annotation(const struct ferry_pod *pod, const char *key);
/* Containers in run order: init containers then containers. i < n_init + n_containers. */
const struct ferry_container *ferry_pod_container_at(const struct ferry_pod *pod, size_t i);

/* Kubernetes quantities: "500m" -> 500 milli-CPU; "4Gi" -> bytes. -EINVAL on junk. */
int ferry_quantity_milli(const char *s, int64_t *ret_milli);
int ferry_quantity_bytes(const char *s, int64_t *ret_bytes);

#endif
