/* stan_append.h - appends published messages off the event loop.
 *
 * Appends block for an fdatasync under SYNC_ALWAYS, so they run on a few appender threads. Each
 * channel has a queue; a thread takes a channel's whole queue and stores it with one
 * streamlog_append_batch() (one commit, one sync), so a channel's messages keep their publish
 * order, and threads working on different channels share syncs through the library's group
 * commit. Finished appends come back to the loop thread through a uv_async_t, where done() sends
 * the PubAcks: a PubAck always follows the storing of its message.
 */
#ifndef STAN_APPEND_H
#define STAN_APPEND_H

#include <streamlog.h>
#include <uv.h>

typedef struct stan_pub {
    struct stan_pub *next;
    const void *data;   /* payload, owned by the caller until done() */
    size_t len;
    void *owner;        /* caller's: e.g. the unpacked PubMsg holding data */
    void *chan;         /* caller's channel object */
    int rc;             /* result of the append, set before done() */
} stan_pub;

/* One channel's queue; embed it in the channel and zero it. ch must stay open until
 * stan_appender_free() returns. */
typedef struct stan_appq {
    streamlog_channel *ch;
    stan_pub *head, *tail;
    int busy, ready;
    struct stan_appq *ready_next;
} stan_appq;

typedef struct stan_appender stan_appender;

/* done(list, ud) runs on the loop thread with a list of finished appends (linked by next), in
 * completion order; it owns them. */
int stan_appender_new(uv_loop_t *loop, int nthreads, void (*done)(stan_pub *list, void *ud), void *ud,
                      stan_appender **out);
void stan_appender_submit(stan_appender *a, stan_appq *q, stan_pub *p);
/* Messages submitted and not yet finished. */
size_t stan_appender_pending(stan_appender *a);
/* Stores everything queued, joins the threads, runs done() for what is left (synchronously),
 * then frees the appender (its async handle is closed on the loop). */
void stan_appender_free(stan_appender *a);

#endif
