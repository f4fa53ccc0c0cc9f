#define _GNU_SOURCE
#include "format.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *base64_encode(const unsigned char *p, size_t len)
{
    char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < len ? p[i + 2] : 0);
        *o++ = b64[v >> 18 & 63];
        *o++ = b64[v >> 12 & 63];
        *o++ = i + 1 < len ? b64[v >> 6 & 63] : '=';
        *o++ = i + 2 < len ? b64[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

/* Strict: length a multiple of 4, padding only at the end. */
static int base64_decode(const char *s, size_t slen, unsigned char **out, size_t *len)
{
    if (slen % 4)
        return -1;
    unsigned char *buf = malloc(slen / 4 * 3 + 1), *o = buf;
    if (!buf)
        return -1;
    for (size_t i = 0; i < slen; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (int j = 0; j < 4; j++) {
            char c = s[i + j];
            const char *at = c ? strchr(b64, c) : NULL;
            if (c == '=' && i + 4 == slen && j >= 2) {
                pad++;
                v <<= 6;
            } else if (at && !pad) {
                v = v << 6 | (uint32_t)(at - b64);
            } else {
                free(buf);
                return -1;
            }
        }
        *o++ = (unsigned char)(v >> 16);
        if (pad < 2)
            *o++ = (unsigned char)(v >> 8);
        if (pad < 1)
            *o++ = (unsigned char)v;
    }
    *out = buf;
    *len = (size_t)(o - buf);
    return 0;
}

/* Bytes as o[key] when valid UTF-8, else as base64 in o[key_base64]: jansson
 * refuses invalid UTF-8, and so do JSON readers. Nonzero on ENOMEM. */
static int set_bytes(json_t *o, const char *key, const char *key_base64, const void *p, size_t len)
{
    json_t *text = json_stringn(len ? p : "", len);
    if (text)
        return json_object_set_new(o, key, text);
    char *enc = base64_encode(p, len);
    int bad = !enc || json_object_set_new(o, key_base64, json_string(enc));
    free(enc);
    return bad;
}

json_t *msg_to_json(const char *channel, uint64_t seq, int64_t time_ns, const void *hdrs, size_t hdrs_len,
                    const void *data, size_t len)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int bad = 0;
    if (channel)
        bad |= json_object_set_new(o, "channel", json_string(channel));
    bad |= json_object_set_new(o, "seq", json_integer((json_int_t)seq));
    bad |= json_object_set_new(o, "time", json_integer(time_ns));
    if (hdrs_len)
        bad |= set_bytes(o, "headers", "headers_base64", hdrs, hdrs_len);
    bad |= set_bytes(o, "data", "data_base64", data, len);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int json_bytes(const json_t *obj, const char *key, const char *key_base64, int required, void **out, size_t *len,
               char *err, size_t errcap)
{
    const json_t *text = json_object_get(obj, key), *enc = json_object_get(obj, key_base64);
    if (text && enc) {
        snprintf(err, errcap, "has both \"%s\" and \"%s\"", key, key_base64);
        return -1;
    }
    if (!text && !enc) {
        if (required) {
            snprintf(err, errcap, "needs one of \"%s\" and \"%s\"", key, key_base64);
            return -1;
        }
        *out = NULL;
        *len = 0;
        return 0;
    }
    const json_t *v = text ? text : enc;
    if (!json_is_string(v)) {
        snprintf(err, errcap, "\"%s\" is not a string", text ? key : key_base64);
        return -1;
    }
    const char *s = json_string_value(v);
    size_t slen = json_string_length(v);
    if (enc) {
        unsigned char *buf;
        if (base64_decode(s, slen, &buf, len)) {
            snprintf(err, errcap, "\"%s\" is not valid base64", key_base64);
            return -1;
        }
        *out = buf;
        return 0;
    }
    void *buf = malloc(slen ? slen : 1);
    if (!buf) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    memcpy(buf, s, slen);
    *out = buf;
    *len = slen;
    return 0;
}

void format_time(int64_t ns, char *buf, size_t cap)
{
    time_t secs = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, cap, "%s.%09lldZ", date, (long long)(ns % 1000000000));
}

void print_hex(FILE *f, uint64_t seq, int64_t time_ns, const void *data, size_t len)
{
    char when[48];
    format_time(time_ns, when, sizeof when);
    fprintf(f, "seq %llu  time %s  %zu bytes\n", (unsigned long long)seq, when, len);
    const unsigned char *p = data;
    for (size_t off = 0; off < len; off += 16) {
        fprintf(f, "%08zx ", off);
        for (size_t i = 0; i < 16; i++) {
            if (i == 8)
                fputc(' ', f);
            if (off + i < len)
                fprintf(f, " %02x", p[off + i]);
            else
                fputs("   ", f);
        }
        fputs("  |", f);
        for (size_t i = 0; i < 16 && off + i < len; i++)
            fputc(isprint(p[off + i]) ? p[off + i] : '.', f);
        fputs("|\n", f);
    }
}

int parse_u64(const char *s, uint64_t *out)
{
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int parse_since(const char *s, int64_t *ns, int *delta)
{
    uint64_t n;
    if (parse_u64(s, &n) == 0) {
        if (n > INT64_MAX)
            return -1;
        *ns = (int64_t)n;
        *delta = 0;
        return 0;
    }
    /* a duration: digits and one unit */
    char *end;
    errno = 0;
    if (isdigit((unsigned char)*s)) {
        unsigned long long v = strtoull(s, &end, 10);
        static const struct { const char *unit; int64_t ns; } units[] = {
            {"ms", 1000000}, {"s", 1000000000}, {"m", 60000000000LL}, {"h", 3600000000000LL}, {"d", 86400000000000LL}};
        for (size_t i = 0; !errno && i < sizeof units / sizeof units[0]; i++) {
            if (strcmp(end, units[i].unit) == 0) {
                if (v > (unsigned long long)(INT64_MAX / units[i].ns))
                    return -1;
                *ns = (int64_t)v * units[i].ns;
                *delta = 1;
                return 0;
            }
        }
    }
    /* RFC 3339 in UTC: YYYY-MM-DDTHH:MM:SS[.fraction]Z */
    struct tm tm = {0};
    end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end)
        return -1;
    int64_t frac = 0;
    if (*end == '.') {
        int digits = 0;
        for (end++; isdigit((unsigned char)*end); end++, digits++)
            if (digits < 9)
                frac = frac * 10 + (*end - '0');
        if (digits == 0)
            return -1;
        for (; digits < 9; digits++)
            frac *= 10;
    }
    if (strcmp(end, "Z") != 0)
        return -1;
    time_t secs = timegm(&tm);
    if (secs < 0)
        return -1;
    *ns = (int64_t)secs * 1000000000 + frac;
    *delta = 0;
    return 0;
}
