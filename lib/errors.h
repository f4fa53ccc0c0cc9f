/* Result codes and the detail message of a failed call: per thread
 * (streamlog_errmsg) and published under an id (streamlog_errmsg_of). */
#ifndef SL_ERRORS_H
#define SL_ERRORS_H

#include <stddef.h>

#include "streamlog.h"

/* Record a detail message for the calling thread and return rc, so a failure
 * reads `return sl_fail(STREAMLOG_EINVAL, "...", ...);`. */
int sl_fail(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Forget the calling thread's last detail message (each public call starts so). */
void sl_clear_error(void);

/* The calling thread's current detail message ("" when none). */
const char *sl_last_error(void);

/* Every public call that returns a result code ends with `return
 * sl_result(rc)`: a failure's detail message is published under a new id,
 * which goes to errno (0 for a failure without a message). Calling it again
 * in the same call publishes nothing new. Returns rc. */
int sl_result(int rc);

/* Copy the message published under id into buf: OK; ENOTFOUND (unknown or
 * overwritten); EINVAL (cap too small). */
int sl_published_message(int id, char *buf, size_t cap);

#endif
