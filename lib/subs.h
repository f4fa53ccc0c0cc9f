/* Subscriptions: at-least-once delivery with acks, redelivery, max in flight,
 * max deliver and dead letters, durables and queue groups (see subs.c). */
#ifndef SL_SUBS_H
#define SL_SUBS_H

#include "streamlog.h"

int sl_subscribe(streamlog_channel *ch, const streamlog_opts *opts, streamlog_sub **out);
int sl_sub_next(streamlog_sub *sub, int64_t timeout_ms, const streamlog_msg **out);
int sl_sub_ack(streamlog_sub *sub, uint64_t seq);
int sl_sub_nak(streamlog_sub *sub, uint64_t seq, int64_t delay_ms);
int sl_sub_progress(streamlog_sub *sub, uint64_t seq);
int sl_sub_term(streamlog_sub *sub, uint64_t seq);
int sl_sub_fd(streamlog_sub *sub);
int sl_sub_close(streamlog_sub *sub, int unsubscribe);
/* The stats functions fill every field of *out but size. */
int sl_sub_stats(streamlog_sub *sub, streamlog_sub_stats_v2 *out);

/* Test hook: move the subscriptions' clocks (monotonic and Unix) forward by
 * ns, for tests about deadlines that would otherwise have to sleep. */
void sl_subs_clock_step(int64_t ns);

/* Durables and queue groups of a channel, without subscribing. */
int sl_group_list_next(streamlog_channel *ch, int after_kind, const char *after_name, int *out_kind, char *buf,
                       size_t cap);
int sl_group_stats(streamlog_channel *ch, int kind, const char *name, streamlog_group_stats_v2 *out);
int sl_group_delete(streamlog_channel *ch, int kind, const char *name);

#endif
