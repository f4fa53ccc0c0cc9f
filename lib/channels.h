/* Channel operations: open (creating, or changing limits), deletion,
 * statistics, listing. The records themselves: chanrec.h. */
#ifndef SL_CHANNELS_H
#define SL_CHANNELS_H

#include "encoding.h"
#include "store.h"

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
