/* Channel name rules (NATS Streaming's subject rule). */
#ifndef SL_NAMES_H
#define SL_NAMES_H

#include <stddef.h>

#define SL_NAME_MAX 255

/* STREAMLOG_OK, or STREAMLOG_EINVAL with a message saying what is wrong. */
int sl_channel_name_check(const char *name);

#endif
