/* streamlog_verify: a walk over the whole store that checks every record. */
#ifndef SL_VERIFY_H
#define SL_VERIFY_H

#include "store.h"

int sl_verify(streamlog_store *st, streamlog_verify_report *out);

#endif
