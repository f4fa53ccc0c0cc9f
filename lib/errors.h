/* Result codes and the per-thread detail message behind streamlog_errmsg(). */
#ifndef SL_ERRORS_H
#define SL_ERRORS_H

#include "streamlog.h"

/* Record a detail message for the calling thread and return rc, so a failure
 * reads `return sl_fail(STREAMLOG_EINVAL, "...", ...);`. */
int sl_fail(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Forget the calling thread's last detail message (each public call starts so). */
void sl_clear_error(void);

/* The calling thread's current detail message ("" when none). */
const char *sl_last_error(void);

#endif
