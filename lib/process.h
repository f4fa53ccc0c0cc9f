/* Process identity: a pid plus the process's start time, so that a pid the
 * kernel reused for another process is not taken for the one recorded. */
#ifndef SL_PROCESS_H
#define SL_PROCESS_H

#include <stdint.h>

void sl_process_identity(uint32_t *pid, uint64_t *start_ticks);
int  sl_process_alive(uint32_t pid, uint64_t start_ticks);

#endif
