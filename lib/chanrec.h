/* Channel records: loading and saving the record (encoding.h) that a
 * channel's name keys, and the limits in force for it. Below every module
 * that changes channels (channel operations, appends, retention, subs). */
#ifndef SL_CHANREC_H
#define SL_CHANREC_H

#include "encoding.h"
#include "store.h"

/* Load the record of channel `name`: STREAMLOG_ENOTFOUND when missing. */
int sl_chan_load(const sl_txn *t, const char *name, size_t name_len, sl_chan_rec *out);
/* Load the record behind a handle: STREAMLOG_ECLOSED when the channel was deleted. */
int sl_chan_load_handle(const sl_txn *t, const streamlog_channel *ch, sl_chan_rec *out);
int sl_chan_save(sl_txn *t, const char *name, size_t name_len, const sl_chan_rec *rec);

/* The limits in force for a channel: its own, else the store's defaults. */
void sl_chan_limits(const streamlog_store *st, const sl_chan_rec *rec, sl_limits *out);

#endif
