/* The store's background thread (see maintenance.c). */
#ifndef SL_MAINTENANCE_H
#define SL_MAINTENANCE_H

#include "store.h"

int  sl_maintenance_start(streamlog_store *st);
void sl_maintenance_stop(streamlog_store *st); /* joins it; no-op when not running */

#endif
