/* Reading: owned copies by sequence, zero-copy iterators, seeking by time. */
#ifndef SL_READER_H
#define SL_READER_H

#include "store.h"

struct streamlog_msg {
    uint64_t seq;
    int64_t time;
    const void *data;
    size_t len;
    const void *hdrs;   /* header block (NATS wire form), NULL when none */
    size_t hdrs_len;
    uint32_t redeliveries;
    int owned;  /* allocated by streamlog_get / streamlog_msg_copy, payload inline */
};

int  sl_get_msg(streamlog_channel *ch, uint64_t seq, streamlog_msg **out);
int  sl_msg_copy(const streamlog_msg *m, streamlog_msg **out);
void sl_msg_free(streamlog_msg *m);

int  sl_iter_open(streamlog_channel *ch, int start, int64_t start_value, streamlog_iter **out);
int  sl_iter_next(streamlog_iter *it, const streamlog_msg **out);
uint64_t sl_iter_position(const streamlog_iter *it);
void sl_iter_close(streamlog_iter *it);

/* Give up the iterator's read snapshot (and so its reader slot) until its
 * next call, which takes a fresh one: for an iterator about to sit idle. */
void sl_iter_release(streamlog_iter *it);

/* Move an iterator: its next call looks for `seq` first. */
void sl_iter_seek(streamlog_iter *it, uint64_t seq);

/* Read message seq into *view under a read transaction left open in *txn
 * (end it with sl_read_end once the view is no longer needed).
 * STREAMLOG_ENOTFOUND when the message was removed or has expired. */
int sl_read_view(streamlog_channel *ch, uint64_t seq, sl_txn *txn, streamlog_msg *view);

/* The sequence at which reading from a start position begins (last_seq + 1
 * for new messages only), resolved under transaction t. */
int sl_resolve_start(const sl_txn *t, streamlog_channel *ch, int start, int64_t start_value, uint64_t *out_seq);

#endif
