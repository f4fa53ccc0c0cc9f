/* Idempotent appends: a message id remembered per channel for the store's
 * dedup window, so a retried append stores nothing twice. */
#ifndef SL_DEDUP_H
#define SL_DEDUP_H

#include "store.h"

#define SL_MSG_ID_MAX 200 /* bytes; keys stay within LMDB's 511 */

/* In the append's transaction: the sequence stored under (chan_id, id) within
 * the window ending at now, or STREAMLOG_ENOTFOUND. */
int sl_dedup_find(const sl_txn *t, uint64_t chan_id, const char *id, size_t id_len, int64_t now, int64_t window_ns,
                  uint64_t *seq);
/* Remember (chan_id, id) -> seq, appended at `now`. */
int sl_dedup_remember(sl_txn *t, uint64_t chan_id, const char *id, size_t id_len, uint64_t seq, int64_t now);
/* Background: forget ids older than the window, in bounded commits. */
void sl_dedup_expire(streamlog_store *st);

#endif
