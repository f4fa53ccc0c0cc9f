/* Clocks: Unix time for message times and deadlines others can read. */
#ifndef SL_CLOCK_H
#define SL_CLOCK_H

#include <stdint.h>

/* Unix time in nanoseconds (CLOCK_REALTIME). */
int64_t sl_now_ns(void);

#endif
