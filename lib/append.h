/* Appending and group commit. */
#ifndef SL_APPEND_H
#define SL_APPEND_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "streamlog.h"

/* One append request: n messages to one channel, queued on the store's
 * committer. A synchronous append keeps it on its stack; a pipelined one
 * (pipeline.c) owns it on the heap. Everything below `wake` is written by the
 * leader that commits it. */
struct sl_append_req {
    streamlog_channel *ch;
    const void *const *data;
    const size_t *lens;
    const void *const *hdrs; /* header blocks, NULL when no message has one */
    const size_t *hdrs_lens;
    size_t n;
    int has_expect;
    uint64_t expect;
    const char *msg_id; /* idempotent append (n == 1): remembered for the dedup window */
    size_t msg_id_len;
    const int64_t *import_times; /* streamlog_import: stored from import_seq with these times */
    uint64_t import_seq;
    /* The owner's condition variable: signalled when the request heads the
     * queue as a leader finishes (its owner leads next), and, without
     * on_done, when the request is done. */
    pthread_cond_t *wake;
    /* When set, called instead of signalling wake once the request is done,
     * under the committer's mutex, in queue order. */
    void (*on_done)(struct sl_append_req *r);
    /* results */
    int rc;
    int done;
    int duplicate;      /* msg_id was seen within the window; nothing written */
    uint64_t first_seq;
    char errmsg[256];
    struct sl_append_req *next;
};

/* Appends waiting for a commit. The first caller to find no commit in
 * progress becomes the leader: it takes every waiting request, commits them
 * in one transaction (one sync), and wakes their callers. */
struct sl_committer {
    pthread_mutex_t mu;
    pthread_cond_t arrive_cv;  /* a request was queued (for a leader gathering a batch) */
    struct sl_append_req *head, *tail;
    size_t queued;
    int leader_active;
    int gathering;             /* the leader waits for arrivals */
    size_t last_batch;         /* requests in the previous commit */
    int64_t last_commit_ns;    /* how long that commit took */
};

/* gather: whether commits are slow enough (synced) for a leader to wait a
 * moment for more appenders, see append.c */
int  sl_committer_init(struct sl_committer *c);
void sl_committer_destroy(struct sl_committer *c);

/* Under c->mu: queue r (its owner sets the request fields, wake and on_done).
 * When no leader is at work and r heads the queue, r's owner is woken to
 * lead. */
void sl_committer_enqueue(struct sl_committer *c, struct sl_append_req *r);
/* Under st->committer.mu, with no leader active: commit everything queued
 * (waiting briefly for more, see append.c), mark each request done, wake the
 * owner of the next queued request. Releases the mutex while committing. */
void sl_committer_lead(streamlog_store *st);

/* Append n messages in one commit, optionally only when the channel's last
 * sequence is `expect` (has_expect). Returns the first sequence. */
int sl_append(streamlog_channel *ch, const void *const *data, const size_t *lens, size_t n, int has_expect,
              uint64_t expect, uint64_t *out_first_seq);
/* The same, each message with a header block (hdrs[i], hdrs_lens[i]; length
 * 0 for none), already validated; hdrs NULL for no headers at all. */
int sl_append_msgs(streamlog_channel *ch, const void *const *hdrs, const size_t *hdrs_lens, const void *const *data,
                   const size_t *lens, size_t n, int has_expect, uint64_t expect, uint64_t *out_first_seq);
/* The same with a message id (n must be 1): within the store's dedup window
 * a repeated id stores nothing, returns the first append's sequence and
 * sets *out_duplicate (when not NULL). */
int sl_append_once(streamlog_channel *ch, const char *msg_id, size_t msg_id_len, const void *const *hdrs,
                   const size_t *hdrs_lens, const void *const *data, const size_t *lens, size_t n, int has_expect,
                   uint64_t expect, uint64_t *out_first_seq, int *out_duplicate);

/* streamlog_import: messages with the sequences and times they had elsewhere. */
int sl_import(streamlog_channel *ch, uint64_t first_seq, const int64_t *times, const void *const *hdrs,
              const size_t *hdrs_lens, const void *const *data, const size_t *lens, size_t n);

/* The checks every append makes before it is queued: each payload present
 * (or empty) and within max_payload, each header block well formed and,
 * with its payload, within max_payload too. hdrs and hdrs_lens may be NULL. */
int sl_append_check(const streamlog_store *st, const void *const *hdrs, const size_t *hdrs_lens,
                    const void *const *data, const size_t *lens, size_t n);

#endif
