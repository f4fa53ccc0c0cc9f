/* nats_sublist.c - a token trie of subscriptions; see nats_sublist.h.
 *
 * Each level of the trie maps a literal token to a node through a small chained hash table and
 * keeps the "*" and ">" children aside, so a match visits at most three children per token. */
#include "nats_sublist.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOKENS 256

typedef struct sl_level sl_level;

typedef struct sl_group {
    char *name;
    void **members;
    size_t n, cap;
    size_t rr;              /* round-robin position */
} sl_group;

typedef struct sl_node {
    struct sl_node *chain;  /* hash chain within its level */
    char *token;
    size_t token_len;
    sl_level *next;
    void **items;
    size_t n, cap;
    sl_group *groups;
    size_t ngroups, gcap;
} sl_node;

struct sl_level {
    sl_node **buckets;
    size_t nbuckets;
    size_t count;           /* literal nodes */
    sl_node *pwc;           /* "*" */
    sl_node *fwc;           /* ">" */
};

struct nats_sublist {
    sl_level *root;
    size_t count;
    sl_group **scratch;     /* queue groups met during one match */
    size_t nscratch, scratch_cap;
};

typedef struct tok {
    const char *p;
    size_t len;
} tok;

static int bad_char(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int subject_check(const char *s, size_t len, int wildcards)
{
    size_t start = 0;
    if (!s || len == 0)
        return 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            size_t tl = i - start;
            if (tl == 0)
                return 0;
            if (tl == 1 && (s[start] == '*' || s[start] == '>')) {
                if (!wildcards)
                    return 0;
                if (s[start] == '>' && i != len)
                    return 0;
            }
            start = i + 1;
        } else if (bad_char(s[i])) {
            return 0;
        }
    }
    return 1;
}

int nats_subject_valid_publish(const char *s, size_t len)
{
    return subject_check(s, len, 0);
}

int nats_subject_valid_subscribe(const char *s, size_t len)
{
    return subject_check(s, len, 1);
}

int nats_queue_name_valid(const char *s, size_t len)
{
    if (!s || len == 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (bad_char(s[i]))
            return 0;
    return 1;
}

static size_t split(const char *s, size_t len, tok *t, size_t max)
{
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (n == max)
                return max + 1;
            t[n].p = s + start;
            t[n].len = i - start;
            n++;
            start = i + 1;
        }
    }
    return n;
}

static uint32_t hash(const char *p, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)p[i];
        h *= 16777619u;
    }
    return h;
}

nats_sublist *nats_sublist_new(void)
{
    nats_sublist *sl = calloc(1, sizeof *sl);
    if (!sl)
        return NULL;
    sl->root = calloc(1, sizeof *sl->root);
    if (!sl->root) {
        free(sl);
        return NULL;
    }
    return sl;
}

static void free_level(sl_level *l);

static void free_node(sl_node *n)
{
    if (!n)
        return;
    free_level(n->next);
    for (size_t i = 0; i < n->ngroups; i++) {
        free(n->groups[i].name);
        free(n->groups[i].members);
    }
    free(n->groups);
    free(n->items);
    free(n->token);
    free(n);
}

static void free_level(sl_level *l)
{
    if (!l)
        return;
    for (size_t b = 0; b < l->nbuckets; b++) {
        sl_node *n = l->buckets[b];
        while (n) {
            sl_node *next = n->chain;
            free_node(n);
            n = next;
        }
    }
    free(l->buckets);
    free_node(l->pwc);
    free_node(l->fwc);
    free(l);
}

void nats_sublist_free(nats_sublist *sl)
{
    if (!sl)
        return;
    free_level(sl->root);
    free(sl->scratch);
    free(sl);
}

size_t nats_sublist_count(const nats_sublist *sl)
{
    return sl ? sl->count : 0;
}

static sl_node *level_find(const sl_level *l, const char *p, size_t len)
{
    if (len == 1 && p[0] == '*')
        return l->pwc;
    if (len == 1 && p[0] == '>')
        return l->fwc;
    if (!l->nbuckets)
        return NULL;
    sl_node *n = l->buckets[hash(p, len) & (l->nbuckets - 1)];
    for (; n; n = n->chain)
        if (n->token_len == len && memcmp(n->token, p, len) == 0)
            return n;
    return NULL;
}

static int level_grow(sl_level *l)
{
    size_t nb = l->nbuckets ? l->nbuckets * 2 : 8;
    sl_node **b = calloc(nb, sizeof *b);
    if (!b)
        return -1;
    for (size_t i = 0; i < l->nbuckets; i++) {
        sl_node *n = l->buckets[i];
        while (n) {
            sl_node *next = n->chain;
            size_t k = hash(n->token, n->token_len) & (nb - 1);
            n->chain = b[k];
            b[k] = n;
            n = next;
        }
    }
    free(l->buckets);
    l->buckets = b;
    l->nbuckets = nb;
    return 0;
}

static sl_node *level_add(sl_level *l, const char *p, size_t len)
{
    sl_node *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->token = malloc(len + 1);
    if (!n->token) {
        free(n);
        return NULL;
    }
    memcpy(n->token, p, len);
    n->token[len] = '\0';
    n->token_len = len;
    if (len == 1 && p[0] == '*') {
        l->pwc = n;
        return n;
    }
    if (len == 1 && p[0] == '>') {
        l->fwc = n;
        return n;
    }
    if (l->count + 1 > l->nbuckets && level_grow(l) < 0) {
        free(n->token);
        free(n);
        return NULL;
    }
    size_t k = hash(p, len) & (l->nbuckets - 1);
    n->chain = l->buckets[k];
    l->buckets[k] = n;
    l->count++;
    return n;
}

static void level_unlink(sl_level *l, sl_node *n)
{
    if (l->pwc == n) {
        l->pwc = NULL;
        return;
    }
    if (l->fwc == n) {
        l->fwc = NULL;
        return;
    }
    sl_node **pp = &l->buckets[hash(n->token, n->token_len) & (l->nbuckets - 1)];
    while (*pp && *pp != n)
        pp = &(*pp)->chain;
    if (*pp) {
        *pp = n->chain;
        l->count--;
    }
}

static int level_empty(const sl_level *l)
{
    return !l || (l->count == 0 && !l->pwc && !l->fwc);
}

static int node_empty(const sl_node *n)
{
    return n->n == 0 && n->ngroups == 0 && level_empty(n->next);
}

static int push(void ***arr, size_t *n, size_t *cap, void *item)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        void **a = realloc(*arr, nc * sizeof *a);
        if (!a)
            return -1;
        *arr = a;
        *cap = nc;
    }
    (*arr)[(*n)++] = item;
    return 0;
}

/* Removes nodes left empty along path[0..depth), deepest first. */
static void prune(sl_level **levels, sl_node **path, size_t depth)
{
    while (depth > 0) {
        depth--;
        sl_node *n = path[depth];
        if (!node_empty(n))
            return;
        level_unlink(levels[depth], n);
        free_node(n);
        if (depth > 0 && level_empty(levels[depth])) {
            free_level(levels[depth]);
            path[depth - 1]->next = NULL;
        }
    }
}

int nats_sublist_insert(nats_sublist *sl, const char *subject, const char *queue, void *item)
{
    tok t[MAX_TOKENS];
    sl_level *levels[MAX_TOKENS];
    sl_node *path[MAX_TOKENS];
    size_t len, n, qlen = queue ? strlen(queue) : 0;

    if (!sl || !subject || !item)
        return -1;
    len = strlen(subject);
    if (!nats_subject_valid_subscribe(subject, len) || (qlen && !nats_queue_name_valid(queue, qlen)))
        return -1;
    n = split(subject, len, t, MAX_TOKENS);
    if (n > MAX_TOKENS)
        return -1;

    sl_level *l = sl->root;
    sl_node *node = NULL;
    size_t depth = 0;
    for (size_t i = 0; i < n; i++) {
        if (!l) {
            l = calloc(1, sizeof *l);
            if (!l)
                goto oom;
            node->next = l;
        }
        sl_node *c = level_find(l, t[i].p, t[i].len);
        if (!c) {
            c = level_add(l, t[i].p, t[i].len);
            if (!c) {
                if (level_empty(l) && node) {
                    free_level(l);
                    node->next = NULL;
                }
                goto oom;
            }
        }
        levels[depth] = l;
        path[depth] = c;
        depth++;
        node = c;
        l = c->next;
    }

    if (!qlen) {
        if (push(&node->items, &node->n, &node->cap, item) < 0)
            goto oom;
    } else {
        sl_group *g = NULL;
        for (size_t i = 0; i < node->ngroups; i++)
            if (!strcmp(node->groups[i].name, queue))
                g = &node->groups[i];
        if (!g) {
            if (node->ngroups == node->gcap) {
                size_t nc = node->gcap ? node->gcap * 2 : 2;
                sl_group *ng = realloc(node->groups, nc * sizeof *ng);
                if (!ng)
                    goto oom;
                node->groups = ng;
                node->gcap = nc;
            }
            char *name = strdup(queue);
            if (!name)
                goto oom;
            g = &node->groups[node->ngroups++];
            memset(g, 0, sizeof *g);
            g->name = name;
        }
        if (push(&g->members, &g->n, &g->cap, item) < 0) {
            if (g->n == 0) {
                free(g->name);
                node->ngroups--;
            }
            goto oom;
        }
    }
    sl->count++;
    return 0;
oom:
    prune(levels, path, depth);
    return -2;
}

static int remove_from(void **arr, size_t *n, void *item)
{
    for (size_t i = 0; i < *n; i++) {
        if (arr[i] == item) {
            /* Keep order so round-robin and delivery order stay stable. */
            memmove(&arr[i], &arr[i + 1], (*n - i - 1) * sizeof *arr);
            (*n)--;
            return 0;
        }
    }
    return -1;
}

int nats_sublist_remove(nats_sublist *sl, const char *subject, const char *queue, void *item)
{
    tok t[MAX_TOKENS];
    sl_level *levels[MAX_TOKENS];
    sl_node *path[MAX_TOKENS];
    size_t len, n, qlen = queue ? strlen(queue) : 0;

    if (!sl || !subject || !item)
        return -1;
    len = strlen(subject);
    n = split(subject, len, t, MAX_TOKENS);
    if (n > MAX_TOKENS)
        return -1;
    sl_level *l = sl->root;
    sl_node *node = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!l)
            return -1;
        node = level_find(l, t[i].p, t[i].len);
        if (!node)
            return -1;
        levels[i] = l;
        path[i] = node;
        l = node->next;
    }
    if (!qlen) {
        if (remove_from(node->items, &node->n, item) < 0)
            return -1;
    } else {
        size_t gi;
        for (gi = 0; gi < node->ngroups; gi++)
            if (!strcmp(node->groups[gi].name, queue))
                break;
        if (gi == node->ngroups)
            return -1;
        sl_group *g = &node->groups[gi];
        if (remove_from(g->members, &g->n, item) < 0)
            return -1;
        if (g->n == 0) {
            free(g->name);
            free(g->members);
            memmove(g, g + 1, (node->ngroups - gi - 1) * sizeof *g);
            node->ngroups--;
        }
    }
    sl->count--;
    prune(levels, path, n);
    return 0;
}

typedef struct match_ctx {
    nats_sublist *sl;
    nats_sublist_filter filter;
    void *ud;
    nats_sublist_result *res;
    int oom;
} match_ctx;

static void add_node(match_ctx *m, sl_node *n)
{
    for (size_t i = 0; i < n->n; i++) {
        if (m->filter && !m->filter(n->items[i], m->ud))
            continue;
        if (push(&m->res->items, &m->res->count, &m->res->cap, n->items[i]) < 0)
            m->oom = 1;
    }
    for (size_t i = 0; i < n->ngroups; i++)
        if (push((void ***)&m->sl->scratch, &m->sl->nscratch, &m->sl->scratch_cap, &n->groups[i]) < 0)
            m->oom = 1;
}

static void match_level(match_ctx *m, sl_level *l, const tok *t, size_t n, size_t i)
{
    if (!l)
        return;
    if (l->fwc)
        add_node(m, l->fwc);
    if (l->pwc) {
        if (i + 1 == n)
            add_node(m, l->pwc);
        else
            match_level(m, l->pwc->next, t, n, i + 1);
    }
    sl_node *lit = level_find(l, t[i].p, t[i].len);
    if (lit && !(t[i].len == 1 && (t[i].p[0] == '*' || t[i].p[0] == '>'))) {
        if (i + 1 == n)
            add_node(m, lit);
        else
            match_level(m, lit->next, t, n, i + 1);
    }
}

/* Picks one accepted member among all matched groups named like groups[first]. */
static void pick_group(match_ctx *m, sl_group **groups, size_t ng, size_t first)
{
    const char *name = groups[first]->name;
    size_t total = 0;
    for (size_t i = first; i < ng; i++)
        if (!strcmp(groups[i]->name, name))
            total += groups[i]->n;
    if (!total)
        return;
    size_t start = groups[first]->rr++ % total;
    for (size_t k = 0; k < total; k++) {
        size_t idx = (start + k) % total;
        void *cand = NULL;
        for (size_t i = first; i < ng && !cand; i++) {
            if (strcmp(groups[i]->name, name))
                continue;
            if (idx < groups[i]->n)
                cand = groups[i]->members[idx];
            else
                idx -= groups[i]->n;
        }
        if (cand && (!m->filter || m->filter(cand, m->ud))) {
            if (push(&m->res->items, &m->res->count, &m->res->cap, cand) < 0)
                m->oom = 1;
            return;
        }
    }
}

int nats_sublist_match(nats_sublist *sl, const char *s, size_t len, nats_sublist_filter filter,
                       void *ud, nats_sublist_result *res)
{
    tok t[MAX_TOKENS];
    match_ctx m = { sl, filter, ud, res, 0 };
    size_t n;

    res->count = 0;
    if (!sl || !s || len == 0)
        return 0;
    n = split(s, len, t, MAX_TOKENS);
    if (n > MAX_TOKENS)
        return 0;
    sl->nscratch = 0;
    match_level(&m, sl->root, t, n, 0);
    for (size_t i = 0; i < sl->nscratch; i++) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = !strcmp(sl->scratch[j]->name, sl->scratch[i]->name);
        if (!seen)
            pick_group(&m, sl->scratch, sl->nscratch, i);
    }
    sl->nscratch = 0;
    return m.oom ? -2 : 0;
}

void nats_sublist_result_free(nats_sublist_result *res)
{
    if (!res)
        return;
    free(res->items);
    res->items = NULL;
    res->count = res->cap = 0;
}
