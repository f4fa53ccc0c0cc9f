/* Channels: records keyed by name, creation, limits, deletion, statistics. */
#ifndef SL_CHANNELS_H
#define SL_CHANNELS_H

#include "encoding.h"
#include "store.h"

/* Load the record of channel `name`: STREAMLOG_ENOTFOUND when missing. */
int sl_chan_load(const sl_txn *t, const char *name, size_t name_len, sl_chan_rec *out);
/* Load the record behind a handle: STREAMLOG_ECLOSED when the channel was deleted. */
int sl_chan_load_handle(const sl_txn *t, const streamlog_channel *ch, sl_chan_rec *out);
int sl_chan_save(sl_txn *t, const char *name, size_t name_len, const sl_chan_rec *rec);

/* The limits in force for a channel: its own, else the store's defaults. */
void sl_chan_limits(const streamlog_store *st, const sl_chan_rec *rec, sl_limits *out);

int sl_channel_open(streamlog_store *st, const char *name, uint32_t flags, const streamlog_opts *limits,
                    streamlog_channel **out);
void sl_channel_close(streamlog_channel *ch);
int sl_channel_delete(streamlog_store *st, const char *name);
/* Fills every field of *out but size. */
int sl_channel_stats(streamlog_channel *ch, streamlog_channel_stats_v2 *out);

int sl_channel_list_next(streamlog_store *st, const char *after, char *buf, size_t cap);

/* Finish purging channels whose deletion was interrupted (called at open). */
int sl_channels_finish_deletes(streamlog_store *st);

#endif
