/* Message header blocks in the NATS wire form:
 *   NATS/1.0[ status]\r\n(Name: value\r\n)*\r\n
 * stored and returned as they are, so NATS front-ends pass them through. */
#ifndef SL_HEADERS_H
#define SL_HEADERS_H

#include <stddef.h>

/* STREAMLOG_OK, or STREAMLOG_EINVAL saying what is wrong with the block. */
int sl_headers_check(const char *h, size_t len);
/* The first value under `name` (compared without regard to ASCII case),
 * leading blanks skipped: STREAMLOG_OK, or STREAMLOG_ENOTFOUND. */
int sl_headers_find(const char *h, size_t len, const char *name, const char **value, size_t *value_len);

#endif
