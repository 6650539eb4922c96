/* SPDX-License-Identifier: MIT */
/*
 * String-keyed hash map (open addressing, linear probing). Keys are borrowed:
 * the caller keeps each key alive while it is in the map (usually the key is a
 * field of the value). Not thread-safe: callers lock.
 */
#ifndef FERRY_HASHMAP_H
#define FERRY_HASHMAP_H

#include <stddef.h>

struct ferry_hashmap;

struct ferry_hashmap *ferry_hashmap_new(void);
void ferry_hashmap_free(struct ferry_hashmap *m);
void *ferry_hashmap_get(const struct ferry_hashmap *m, const char *key);
/* Insert or replace; returns the previous value or NULL. */
void *ferry_hashmap_put(struct ferry_hashmap *m, const char *key, void *value);
/* Remove; returns the removed value or NULL. */
void *ferry_hashmap_remove(struct ferry_hashmap *m, const char *key);
size_t ferry_hashmap_size(const struct ferry_hashmap *m);
/* Iterate: start with *it = 0; returns 0 at the end. */
int ferry_hashmap_next(const struct ferry_hashmap *m, size_t *it, const char **ret_key,
                       void **ret_value);

#endif
