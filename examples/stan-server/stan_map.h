/* stan_map.h - a small string-keyed hash map (chained, grows by doubling). Keys are copied. */
#ifndef STAN_MAP_H
#define STAN_MAP_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct stan_map_ent {
    struct stan_map_ent *next;
    uint64_t hash;
    size_t klen;
    void *val;
    char key[];
} stan_map_ent;

typedef struct stan_map {
    stan_map_ent **b;
    size_t nb, n;
} stan_map;

static inline uint64_t stan_map_hash(const void *k, size_t n)
{
    const unsigned char *p = k;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static inline void *stan_map_get(const stan_map *m, const void *k, size_t klen)
{
    if (!m->nb)
        return NULL;
    uint64_t h = stan_map_hash(k, klen);
    for (stan_map_ent *e = m->b[h & (m->nb - 1)]; e; e = e->next)
        if (e->hash == h && e->klen == klen && !memcmp(e->key, k, klen))
            return e->val;
    return NULL;
}

/* Inserts or replaces; returns 0 or -1 (out of memory). */
static inline int stan_map_put(stan_map *m, const void *k, size_t klen, void *val)
{
    if (m->n + 1 > m->nb) {
        size_t nb = m->nb ? m->nb * 2 : 16;
        stan_map_ent **b = calloc(nb, sizeof *b);
        if (!b)
            return -1;
        for (size_t i = 0; i < m->nb; i++)
            for (stan_map_ent *e = m->b[i], *nx; e; e = nx) {
                nx = e->next;
                e->next = b[e->hash & (nb - 1)];
                b[e->hash & (nb - 1)] = e;
            }
        free(m->b);
        m->b = b;
        m->nb = nb;
    }
    uint64_t h = stan_map_hash(k, klen);
    stan_map_ent **slot = &m->b[h & (m->nb - 1)];
    for (stan_map_ent *e = *slot; e; e = e->next)
        if (e->hash == h && e->klen == klen && !memcmp(e->key, k, klen)) {
            e->val = val;
            return 0;
        }
    stan_map_ent *e = malloc(sizeof *e + klen + 1);
    if (!e)
        return -1;
    e->hash = h;
    e->klen = klen;
    e->val = val;
    memcpy(e->key, k, klen);
    e->key[klen] = '\0';
    e->next = *slot;
    *slot = e;
    m->n++;
    return 0;
}

static inline void stan_map_del(stan_map *m, const void *k, size_t klen)
{
    if (!m->nb)
        return;
    uint64_t h = stan_map_hash(k, klen);
    for (stan_map_ent **pp = &m->b[h & (m->nb - 1)]; *pp; pp = &(*pp)->next) {
        stan_map_ent *e = *pp;
        if (e->hash == h && e->klen == klen && !memcmp(e->key, k, klen)) {
            *pp = e->next;
            free(e);
            m->n--;
            return;
        }
    }
}

static inline void stan_map_clear(stan_map *m)
{
    for (size_t i = 0; i < m->nb; i++)
        for (stan_map_ent *e = m->b[i], *nx; e; e = nx) {
            nx = e->next;
            free(e);
        }
    free(m->b);
    m->b = NULL;
    m->nb = m->n = 0;
}

#endif
