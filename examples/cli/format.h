/* Message and time formats of the streamlog CLI: JSON lines (jansson), hex
 * dumps, base64 for payloads that are not UTF-8, and time parsing. */
#ifndef CLI_FORMAT_H
#define CLI_FORMAT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A message as a JSON object: {"seq", "time" (Unix ns), "headers" (only when
 * hdrs_len > 0: the NATS header block), "data"}. Headers and data go as
 * strings when valid UTF-8, else as "headers_base64" / "data_base64".
 * `channel` (may be NULL) adds "channel" first, as export writes. NULL on ENOMEM. */
json_t *msg_to_json(const char *channel, uint64_t seq, int64_t time_ns, const void *hdrs, size_t hdrs_len,
                    const void *data, size_t len);

/* The bytes of obj[key] (a string) or obj[key_base64] (base64) as a malloc'd
 * buffer in *out (never NULL when present, even for len 0). When neither is
 * there: an error if `required`, else *out NULL and *len 0. 0, or -1 with a
 * reason in `err`. */
int json_bytes(const json_t *obj, const char *key, const char *key_base64, int required, void **out, size_t *len,
               char *err, size_t errcap);

/* A hexdump -C style listing of the payload, after a "seq ... time ..." line. */
void print_hex(FILE *f, uint64_t seq, int64_t time_ns, const void *data, size_t len);

/* "2026-12-04T23:14:21.123456789Z" into buf (at least 40 bytes). */
void format_time(int64_t ns, char *buf, size_t cap);

/* --since: Unix nanoseconds ("1733353000000000000"), RFC 3339 UTC
 * ("2026-12-04T23:14:21Z", optional fraction), or a duration ago ("90s",
 * "15m", "2h", "1d"). *delta is set to 1 for a duration (*ns is then its
 * length), 0 for an absolute time. 0, or -1 when unparsable. */
int parse_since(const char *s, int64_t *ns, int *delta);

/* A whole non-negative decimal number; 0, or -1. */
int parse_u64(const char *s, uint64_t *out);

#endif
