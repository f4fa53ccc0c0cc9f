/* Header blocks between libstreamlog (the NATS wire form, stored as it is) and libnats (a map
 * of names to values): the message's own headers pass through, the bridge's own replace any
 * of the same name. */
#include "bridge.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_one_of(const char *name, size_t len, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(names[i]) == len && strncasecmp(names[i], name, len) == 0)
            return 1;
    return 0;
}

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static int put(buf *b, const char *s, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

static int put_line(buf *b, const char *name, const char *value)
{
    return put(b, name, strlen(name)) || put(b, ": ", 2) || put(b, value, strlen(value)) || put(b, "\r\n", 2);
}

int jsb_headers_from_nats(natsMsg *m, const char *const *names, const char *const *values, size_t n, char **out,
                          size_t *out_len)
{
    buf b = {0};
    const char **keys = NULL;
    int nkeys = 0;
    int rc = -1;
    if (put(&b, "NATS/1.0\r\n", 10))
        goto out;
    natsStatus s = natsMsgHeader_Keys(m, &keys, &nkeys);
    if (s != NATS_OK && s != NATS_NOT_FOUND)
        goto out;
    for (int k = 0; k < nkeys; k++) {
        if (is_one_of(keys[k], strlen(keys[k]), names, n))
            continue;
        const char **vals = NULL;
        int nvals = 0;
        if (natsMsgHeader_Values(m, keys[k], &vals, &nvals) != NATS_OK)
            continue;
        int bad = 0;
        for (int v = 0; v < nvals && !bad; v++)
            bad = put_line(&b, keys[k], vals[v]);
        free((void *)vals);
        if (bad)
            goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (put_line(&b, names[i], values[i]))
            goto out;
    if (put(&b, "\r\n", 2))
        goto out;
    *out = b.p;
    *out_len = b.len;
    b.p = NULL;
    rc = 0;
out:
    free((void *)keys);
    free(b.p);
    return rc;
}

natsStatus jsb_headers_to_nats(natsMsg *m, const void *block, size_t len, const char *const *skip, size_t nskip)
{
    const char *p = block, *end = p + len;
    const char *eol = memmem(p, len, "\r\n", 2);
    if (!eol)
        return NATS_OK; /* no block */
    for (p = eol + 2; p < end; p = eol + 2) {
        eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol || eol == p)
            break; /* the empty line that ends the block */
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (!colon || is_one_of(p, (size_t)(colon - p), skip, nskip))
            continue; /* the library stores only well-formed blocks; no colon is a status line */
        const char *v = colon + 1;
        while (v < eol && (*v == ' ' || *v == '\t'))
            v++;
        size_t nl = (size_t)(colon - p), vl = (size_t)(eol - v);
        char small[512], *line = nl + vl + 2 <= sizeof small ? small : malloc(nl + vl + 2);
        if (!line)
            return NATS_NO_MEMORY;
        memcpy(line, p, nl);
        line[nl] = 0;
        memcpy(line + nl + 1, v, vl);
        line[nl + 1 + vl] = 0;
        natsStatus s = natsMsgHeader_Add(m, line, line + nl + 1);
        if (line != small)
            free(line);
        if (s != NATS_OK)
            return s;
    }
    return NATS_OK;
}
