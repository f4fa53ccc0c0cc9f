/* Retention: max_msgs and max_bytes (enforced in each append's commit) and
 * max_age (hidden from readers at once, reclaimed by the background sweep). */
#ifndef SL_RETENTION_H
#define SL_RETENTION_H

#include <stddef.h>

#include "encoding.h"
#include "store.h"

/* Messages with a time before the cutoff have expired; INT64_MIN when the
 * limits have no max_age. */
int64_t sl_expiry_cutoff(const sl_limits *lim, int64_t now);

/* In a write transaction: remove from the front of the channel what its
 * limits no longer allow (the newest message survives max_msgs/max_bytes),
 * at most `max_count` messages for max_msgs/max_bytes and `max_expired` for
 * max_age; updates *rec (the caller saves it). */
int sl_retention_apply(sl_txn *t, sl_chan_rec *rec, const sl_limits *lim, int64_t now, size_t max_count,
                       size_t max_expired, size_t *deleted);

/* Whether the channel holds anything its limits no longer allow. */
int sl_retention_expired(const sl_txn *t, const sl_chan_rec *rec, const sl_limits *lim, int64_t now);

/* Bring one channel within its limits, in bounded commits. */
int sl_retention_run(streamlog_store *st, const streamlog_channel *ch);

/* streamlog_channel_purge: remove messages up to upto_seq from the front,
 * in bounded commits; *removed counts what went (also on failure). */
int sl_retention_purge(streamlog_store *st, const streamlog_channel *ch, uint64_t upto_seq, uint64_t *removed);

/* Background: reclaim expired messages in every channel of the store. */
void sl_retention_sweep(streamlog_store *st);

#endif
