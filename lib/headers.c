/* Header blocks: checked once when appended, then trusted as stored (the
 * record's checksum covers them). */
#include <string.h>
#include <strings.h>

#include "errors.h"
#include "headers.h"

#define PREFIX "NATS/1.0"

/* The end of the line starting at p (the '\r' of its "\r\n"), or NULL. */
static const char *line_end(const char *p, const char *end)
{
    for (; p + 1 < end; p++) {
        if (p[0] == '\r' && p[1] == '\n')
            return p;
        if (p[0] == '\r' || p[0] == '\n')
            return NULL; /* a bare CR or LF */
    }
    return NULL;
}

static int name_char(unsigned char c)
{
    return c > ' ' && c < 127 && c != ':';
}

int sl_headers_check(const char *h, size_t len)
{
    const char *end = h + len;
    if (len < sizeof PREFIX - 1 + 4 || memcmp(h, PREFIX, sizeof PREFIX - 1) != 0)
        return sl_fail(STREAMLOG_EINVAL, "a header block starts with \"NATS/1.0\" and ends with an empty line");
    const char *p = line_end(h, end);
    if (!p)
        return sl_fail(STREAMLOG_EINVAL, "header block: the NATS/1.0 line does not end with CRLF");
    for (p += 2; p < end; p += 2) {
        const char *e = line_end(p, end);
        if (!e)
            return sl_fail(STREAMLOG_EINVAL, "header block: a line at byte %zu does not end with CRLF", (size_t)(p - h));
        if (e == p) /* the empty line: it must be the last */
            return e + 2 == end ? STREAMLOG_OK
                                : sl_fail(STREAMLOG_EINVAL, "header block: bytes after its closing empty line");
        const char *colon = memchr(p, ':', (size_t)(e - p));
        if (!colon || colon == p)
            return sl_fail(STREAMLOG_EINVAL, "header block: line at byte %zu is not \"Name: value\"", (size_t)(p - h));
        for (const char *c = p; c < colon; c++)
            if (!name_char((unsigned char)*c))
                return sl_fail(STREAMLOG_EINVAL, "header block: a name holds a blank or control character");
        p = e;
    }
    return sl_fail(STREAMLOG_EINVAL, "header block: no closing empty line");
}

int sl_headers_find(const char *h, size_t len, const char *name, const char **value, size_t *value_len)
{
    const char *end = h + len, *p = line_end(h, end);
    size_t nlen = strlen(name);
    for (p = p ? p + 2 : end; p < end;) {
        const char *e = line_end(p, end);
        if (!e || e == p)
            break;
        const char *colon = memchr(p, ':', (size_t)(e - p));
        if (colon && (size_t)(colon - p) == nlen && strncasecmp(p, name, nlen) == 0) {
            const char *v = colon + 1;
            while (v < e && (*v == ' ' || *v == '\t'))
                v++;
            *value = v;
            *value_len = (size_t)(e - v);
            return STREAMLOG_OK;
        }
        p = e + 2;
    }
    return STREAMLOG_ENOTFOUND;
}
