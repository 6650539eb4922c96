/* SPDX-License-Identifier: MIT */
/*
 * MIG geometry and the layout planner: a pure library (structs in, plan out,
 * no I/O, no logging). See doc/gpu.md for the algorithm and its bound.
 *
 * Ownership: geometry tables are static and never freed. An inventory and a
 * demand are owned by whoever built them (ferry_mig_inventory_free /
 * ferry_mig_demand_free); a plan is owned by the caller of ferry_mig_plan()
 * and freed with ferry_mig_plan_free(). A plan refers to the inventory by
 * indices only, so it may outlive it.
 */
#ifndef FERRY_GPU_MIG_H
#define FERRY_GPU_MIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define FERRY_MIG_MAX_PROFILES 8
#define FERRY_MIG_MAX_INSTANCES 8 /* 7 on the 7x8 cards, 4 on A30 */
#define FERRY_MIG_NAME_MAX 32
/* Limits on what an input file may ask for. */
#define FERRY_MIG_MAX_GPUS 100000
#define FERRY_MIG_MAX_GPUS_PER_NODE 64
#define FERRY_MIG_MAX_REQUESTS 64
#define FERRY_MIG_MAX_COUNT 1000000
/* Demand for a whole GPU with MIG disabled ("nvidia.com/gpu"). */
#define FERRY_MIG_WHOLE "gpu"

struct ferry_mig_profile {
        const char *name; /* "1g.10gb" */
        uint8_t compute;  /* compute slices */
        uint8_t mem;      /* memory slices = placement span in slots */
        uint8_t starts;   /* bitmask of allowed start slots */
};

struct ferry_mig_geometry {
        const char *model; /* "A100-80GB" */
        uint8_t compute_slices, mem_slices;
        uint8_t n_profiles;
        struct ferry_mig_profile profiles[FERRY_MIG_MAX_PROFILES];
        uint32_t mem_mib; /* nominal memory, for naming NVML instances */
};

/* Look a model up: the canonical names ("A100-80GB", "H200-141GB", "A30-24GB"...),
 * case-insensitive, or an NVML product name ("NVIDIA A100-SXM4-80GB"). NULL if
 * unknown. */
const struct ferry_mig_geometry *ferry_mig_geometry_find(const char *model);
/* The table, for listing known models in error messages. */
const struct ferry_mig_geometry *ferry_mig_geometry_get(size_t i); /* NULL past the end */
/* Profile index by name, or -1. */
int ferry_mig_profile_find(const struct ferry_mig_geometry *g, const char *name);
/* Profile by compute slices and memory slices, or -1. */
int ferry_mig_profile_by_shape(const struct ferry_mig_geometry *g, unsigned compute, unsigned mem);

struct ferry_mig_instance {
        uint8_t profile; /* index into geometry profiles */
        int8_t start;    /* memory slot, -1 = not placed yet */
        bool in_use;     /* a workload runs on it: do not destroy */
};

struct ferry_mig_layout {
        bool mig; /* false: MIG disabled, the whole GPU is one device */
        uint8_t n;
        struct ferry_mig_instance inst[FERRY_MIG_MAX_INSTANCES]; /* sorted by start */
};

/* 0 when every instance has an allowed start, nothing overlaps and the slices
 * add up; -EINVAL with a sentence otherwise. */
int ferry_mig_layout_check(const struct ferry_mig_geometry *g, const struct ferry_mig_layout *l,
                           ferry_error_t *err);
/* Give a start to every instance with start -1, keeping placed ones, then sort
 * by start. -EINVAL if no placement exists. */
int ferry_mig_layout_place(const struct ferry_mig_geometry *g, struct ferry_mig_layout *l,
                           ferry_error_t *err);
/* Every valid MIG layout of one GPU (every placement-respecting set of
 * instances, the empty one included; in_use false). Writes up to max layouts
 * and returns how many exist. */
size_t ferry_mig_enumerate(const struct ferry_mig_geometry *g, struct ferry_mig_layout *out,
                           size_t max);

/* ---- inventory and demand ---- */
struct ferry_mig_gpu {
        const struct ferry_mig_geometry *geom;
        unsigned index;                  /* device index on its node */
        struct ferry_mig_layout current; /* placed (every start >= 0) */
        bool busy;                       /* MIG disabled and the whole GPU runs work */
};

struct ferry_mig_node {
        char *name;
        size_t n_gpus;
        struct ferry_mig_gpu *gpus;
};

struct ferry_mig_inventory {
        size_t n_nodes;
        struct ferry_mig_node *nodes;
};

struct ferry_mig_request {
        char profile[FERRY_MIG_NAME_MAX]; /* "1g.10gb", or FERRY_MIG_WHOLE */
        uint32_t count;                   /* instances wanted, running ones included */
        uint32_t weight;                  /* per instance, in thousandths */
        unsigned line;                    /* where it was read, 0 if not from a file */
};

struct ferry_mig_demand {
        size_t n;
        struct ferry_mig_request *req;
};

void ferry_mig_inventory_free(struct ferry_mig_inventory *inv);
void ferry_mig_demand_free(struct ferry_mig_demand *d);

/* ---- planner ---- */
enum ferry_mig_mode {
        FERRY_MIG_AUTO,      /* heuristic, then exact search when the cluster is small */
        FERRY_MIG_HEURISTIC, /* heuristic only */
        FERRY_MIG_EXACT,     /* heuristic, then exact search up to node_limit */
};

struct ferry_mig_options {
        bool allow_disrupt; /* may destroy in-use instances (still avoided on ties) */
        enum ferry_mig_mode mode;
        uint64_t node_limit;   /* exact search nodes; 0 = default */
        size_t exact_max_gpus; /* AUTO: exact search up to this many GPUs; 0 = default */
};

struct ferry_mig_target {
        size_t node, gpu;               /* indices into the inventory */
        struct ferry_mig_layout layout; /* target, placed */
        bool changed;                   /* layout (counts or MIG mode) differs from current */
        bool disrupts;                  /* destroys an in-use instance */
};

struct ferry_mig_plan {
        size_t n_targets;
        struct ferry_mig_target *targets; /* one per GPU, inventory order */
        size_t n_req;
        uint32_t *supply; /* per request: instances of that profile in the plan */
        uint32_t *served; /* per request: min(count, supply) */
        uint64_t value;   /* weighted served demand, thousandths */
        uint64_t bound;   /* upper bound on value over all plans */
        uint64_t total;   /* weighted demand, thousandths */
        size_t gpus_changed, nodes_touched, disrupted;
        bool optimal;          /* proven by complete search (value and tie-breaks) */
        uint64_t search_nodes; /* exact-search nodes visited */
};

/* Plan target layouts. Errors: -EINVAL (bad input: a demand profile no GPU
 * offers, an invalid current layout), -E2BIG (limits). */
int ferry_mig_plan(const struct ferry_mig_inventory *inv, const struct ferry_mig_demand *d,
                   const struct ferry_mig_options *opt, struct ferry_mig_plan **ret,
                   ferry_error_t *err);
void ferry_mig_plan_free(struct ferry_mig_plan *p);

#endif
