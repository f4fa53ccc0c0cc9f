/* stan_append.h - appends published messages off the event loop.
 *
 * Appends block for an fdatasync under SYNC_ALWAYS, so they run on a few appender threads. Each
 * channel has a queue; a thread takes a channel's whole queue and stores it with one
 * streamlog_append_batch() (one commit, one sync), so a channel's messages keep their publish
 * order, and threads working on different channels share syncs through the library's group
 * commit. stored() runs on the appender thread right after a batch is stored (the server sends the
 * PubAcks there, with no hand-off), then the finished appends go back to the loop thread through a
 * uv_async_t, where done() frees them.
 *
 * Each queue also gates delivery: a subscriber may see a message as soon as its batch commits, but
 * must not deliver it before its PubAck is out. stan_appq_deliverable() says whether it may.
 */
#ifndef STAN_APPEND_H
#define STAN_APPEND_H

#include <stdatomic.h>
#include <streamlog.h>
#include <uv.h>

typedef struct stan_pub {
    struct stan_pub *next;
    const void *data;   /* payload, owned by the caller until done() */
    size_t len;
    void *owner;        /* caller's: e.g. the unpacked PubMsg holding data */
    void *chan;         /* caller's channel object */
    int rc;             /* result of the append, set before stored() */
} stan_pub;

/* One channel's queue; embed it in the channel and zero it. ch must stay open until
 * stan_appender_free() returns. */
typedef struct stan_appq {
    streamlog_channel *ch;
    stan_pub *head, *tail;
    int busy, ready;
    struct stan_appq *ready_next;
    atomic_int storing;          /* a batch is between its commit and the end of stored() */
    atomic_uint_least64_t acked; /* highest sequence whose stored() has run */
} stan_appq;

/* 0 while message seq of q's channel may belong to a batch whose PubAcks are not sent yet. */
int stan_appq_deliverable(stan_appq *q, uint64_t seq);

typedef struct stan_appender stan_appender;

/* stored(list, ud) runs on an appender thread with one stored batch of a channel (linked by next);
 * done(list, ud) runs later on the loop thread with finished appends, in completion order, and owns
 * them. */
int stan_appender_new(uv_loop_t *loop, int nthreads, void (*stored)(stan_pub *list, void *ud),
                      void (*done)(stan_pub *list, void *ud), void *ud, stan_appender **out);
void stan_appender_submit(stan_appender *a, stan_appq *q, stan_pub *p);
/* Stores everything queued (running stored() for it), joins the threads, runs done() for what is
 * left (synchronously), then frees the appender (its async handle is closed on the loop). */
void stan_appender_free(stan_appender *a);

#endif
