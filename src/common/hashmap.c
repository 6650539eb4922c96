/* SPDX-License-Identifier: MIT */
#include "hashmap.h"

#include <stdint.h>
#include <string.h>

#include "util.h"

struct slot {
        const char *key; /* NULL = empty; TOMB = deleted */
        void *value;
        uint64_t hash;
};

static const char tomb_key[1];
#define TOMB tomb_key

struct ferry_hashmap {
        struct slot *slots;
        size_t cap; /* power of two */
        size_t size;
        size_t used; /* size + tombstones */
};

static uint64_t hash_str(const char *s)
{
        uint64_t h = 1469598103934665603ULL; /* FNV-1a */
        for (; *s; s++) {
                h ^= (unsigned char)*s;
                h *= 1099511628211ULL;
        }
        return h ^ (h >> 32);
}

struct ferry_hashmap *ferry_hashmap_new(void)
{
        struct ferry_hashmap *m = ferry_xcalloc(1, sizeof(*m));
        m->cap = 64;
        m->slots = ferry_xcalloc(m->cap, sizeof(*m->slots));
        return m;
}

void ferry_hashmap_free(struct ferry_hashmap *m)
{
        if (!m)
                return;
        free(m->slots);
        free(m);
}

static struct slot *find(const struct ferry_hashmap *m, const char *key, uint64_t h)
{
        size_t mask = m->cap - 1;
        for (size_t i = h & mask;; i = (i + 1) & mask) {
                struct slot *s = &m->slots[i];
                if (!s->key)
                        return NULL;
                if (s->key != TOMB && s->hash == h && !strcmp(s->key, key))
                        return s;
        }
}

void *ferry_hashmap_get(const struct ferry_hashmap *m, const char *key)
{
        struct slot *s = find(m, key, hash_str(key));
        return s ? s->value : NULL;
}

static void grow(struct ferry_hashmap *m)
{
        struct slot *old = m->slots;
        size_t oldcap = m->cap;
        size_t cap =
            m->size * 4 > m->cap ? m->cap * 2 : m->cap; /* rehash in place if mostly tombs */

        m->slots = ferry_xcalloc(cap, sizeof(*m->slots));
        m->cap = cap;
        m->used = m->size;
        for (size_t i = 0; i < oldcap; i++) {
                if (!old[i].key || old[i].key == TOMB)
                        continue;
                size_t mask = cap - 1;
                size_t j = old[i].hash & mask;
                while (m->slots[j].key)
                        j = (j + 1) & mask;
                m->slots[j] = old[i];
        }
        free(old);
}

void *ferry_hashmap_put(struct ferry_hashmap *m, const char *key, void *value)
{
        uint64_t h = hash_str(key);
        struct slot *s = find(m, key, h);
        if (s) {
                void *prev = s->value;
                s->value = value;
                s->key = key;
                return prev;
        }
        if ((m->used + 1) * 4 > m->cap * 3)
                grow(m);
        size_t mask = m->cap - 1;
        size_t i = h & mask;
        while (m->slots[i].key && m->slots[i].key != TOMB)
                i = (i + 1) & mask;
        if (!m->slots[i].key)
                m->used++;
        m->slots[i] = (struct slot){key, value, h};
        m->size++;
        return NULL;
}

void *ferry_hashmap_remove(struct ferry_hashmap *m, const char *key)
{
        struct slot *s = find(m, key, hash_str(key));
        if (!s)
                return NULL;
        void *v = s->value;
        s->key = TOMB;
        s->value = NULL;
        m->size--;
        return v;
}

size_t ferry_hashmap_size(const struct ferry_hashmap *m)
{
        return m->size;
}

int ferry_hashmap_next(const struct ferry_hashmap *m, size_t *it, const char **ret_key,
                       void **ret_value)
{
        while (*it < m->cap) {
                struct slot *s = &m->slots[(*it)++];
                if (s->key && s->key != TOMB) {
                        if (ret_key)
                                *ret_key = s->key;
                        if (ret_value)
                                *ret_value = s->value;
                        return 1;
                }
        }
        return 0;
}
