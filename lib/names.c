/* A channel name: 1..255 bytes of valid UTF-8, dot-separated non-empty tokens,
 * no wildcard ('*', '>'), no '/', no whitespace or control characters. */
#include <string.h>

#include "errors.h"
#include "names.h"

/* Length of the UTF-8 sequence starting at s (at most `left` bytes), 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    size_t n;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07; }
    else return 0;
    if (left < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    /* overlong, surrogate and out-of-range forms */
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

int sl_channel_name_check(const char *name)
{
    size_t len = strlen(name);
    if (len == 0)
        return sl_fail(STREAMLOG_EINVAL, "channel name is empty");
    if (len > SL_NAME_MAX)
        return sl_fail(STREAMLOG_EINVAL, "channel name is %zu bytes, longer than %d", len, SL_NAME_MAX);
    const unsigned char *s = (const unsigned char *)name;
    size_t token_len = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        if (c == '.') {
            if (token_len == 0)
                return sl_fail(STREAMLOG_EINVAL, "channel name '%s' has an empty token", name);
            token_len = 0;
            i++;
            continue;
        }
        if (c == '*' || c == '>')
            return sl_fail(STREAMLOG_EINVAL, "channel name '%s' contains the wildcard '%c'", name, c);
        if (c == '/')
            return sl_fail(STREAMLOG_EINVAL, "channel name '%s' contains '/'", name);
        if (c <= 0x20 || c == 0x7F)
            return sl_fail(STREAMLOG_EINVAL, "channel name contains whitespace or a control character at byte %zu", i);
        size_t n = utf8_seq_len(s + i, len - i);
        if (n == 0)
            return sl_fail(STREAMLOG_EINVAL, "channel name is not valid UTF-8 at byte %zu", i);
        i += n;
        token_len += n;
    }
    if (token_len == 0)
        return sl_fail(STREAMLOG_EINVAL, "channel name '%s' has an empty token", name);
    return STREAMLOG_OK;
}
