/* The write path: the one way the library writes to a store. Modules that
 * write (append, channels, retention, dedup, subscriptions) call down to
 * here; nothing here calls up to them. */
#ifndef SL_WRITE_H
#define SL_WRITE_H

#include "store.h"

/* STREAMLOG_OK; STREAMLOG_EPERM for a read-only store; STREAMLOG_EIO when an
 * earlier write or sync failed. */
int sl_store_writable(streamlog_store *st);

/* Runs `work` in one write transaction (see sl_env_write): refuses a
 * read-only or latched store, and latches the store when the commit fails
 * in a way that means the disk may not hold it. `relaxed` as for
 * sl_env_write. A commit that makes a SYNC_INTERVAL sync point due wakes the
 * maintenance thread to make it. */
int sl_store_write(streamlog_store *st, int relaxed, sl_write_fn work, void *ctx);

/* A sync of everything committed (streamlog_sync, the interval thread);
 * latches the store when it fails. */
int sl_store_sync(streamlog_store *st);

#endif
