/* Appends and group commit.
 *
 * Every append becomes a request on the store's queue. Whoever finds no
 * leader at work becomes the leader, takes the whole queue, applies it in one
 * LMDB write transaction and commits once, so concurrent appenders share
 * one commit's syncs instead of queueing for their own. One request failing
 * (ECONFLICT, EFULL, ...) leaves the others of its batch intact (see
 * commit_batch). No transaction outlives the leader's call, and the leader's
 * own request is part of the batch, so a synchronous append needs no
 * background writer thread. A pipeline (pipeline.c) queues requests it does
 * not wait for; its own thread leads for them when no appender does.
 *
 * Except under SYNC_NONE a commit costs an fdatasync, and appenders that just
 * got their result come back a moment later: a leader that finds fewer
 * requests queued than the previous batch held waits a little (a quarter of
 * the last commit's time, at most GATHER_MAX_NS) for them, so batches stay
 * large instead of alternating between large and tiny. A lone appender
 * never waits: its previous batch held one request. */
#include <stdio.h>
#include <time.h>
#include <string.h>

#include "chanrec.h"
#include "clock.h"
#include "dedup.h"
#include "errors.h"
#include "headers.h"
#include "retention.h"
#include "store.h"
#include "write.h"

#define GATHER_MAX_NS 200000     /* longest a leader waits for more appenders */
#define APPEND_COUNT_STEP 100000 /* messages removed for max_msgs/max_bytes per append, at most */
#define APPEND_EXPIRY_STEP 1000  /* expired messages removed per append, at most */

int sl_committer_init(struct sl_committer *c)
{
    memset(c, 0, sizeof *c);
    if (pthread_mutex_init(&c->mu, NULL))
        return sl_fail(STREAMLOG_ENOMEM, "cannot create a mutex");
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int err = pthread_cond_init(&c->arrive_cv, &ca);
    pthread_condattr_destroy(&ca);
    if (err) {
        pthread_mutex_destroy(&c->mu);
        return sl_fail(STREAMLOG_ENOMEM, "cannot create a condition variable");
    }
    return STREAMLOG_OK;
}

void sl_committer_destroy(struct sl_committer *c)
{
    pthread_cond_destroy(&c->arrive_cv);
    pthread_mutex_destroy(&c->mu);
}

int sl_append_check(const streamlog_store *st, const void *const *hdrs, const size_t *hdrs_lens,
                    const void *const *data, const size_t *lens, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!data[i] && lens[i])
            return sl_fail(STREAMLOG_EINVAL, "payload %zu is NULL with length %zu", i, lens[i]);
        if (lens[i] > st->max_payload)
            return sl_fail(STREAMLOG_ELIMIT, "payload %zu is %zu bytes, more than max_payload %llu", i, lens[i],
                           (unsigned long long)st->max_payload);
    }
    for (size_t i = 0; i < n; i++) {
        size_t hl = hdrs_lens ? hdrs_lens[i] : 0;
        if (!hl)
            continue;
        if (!hdrs || !hdrs[i])
            return sl_fail(STREAMLOG_EINVAL, "header block %zu is NULL with length %zu", i, hl);
        if (hl > UINT32_MAX)
            return sl_fail(STREAMLOG_EINVAL, "header block %zu is larger than 4 GiB", i);
        int rc = sl_headers_check(hdrs[i], hl);
        if (rc)
            return rc;
        if (hl + lens[i] > st->max_payload)
            return sl_fail(STREAMLOG_ELIMIT, "message %zu: headers and payload are %zu bytes, more than max_payload "
                           "%llu", i, hl + lens[i], (unsigned long long)st->max_payload);
    }
    return STREAMLOG_OK;
}

/* Bytes of the records a request writes, keys included. */
static uint64_t request_bytes(const struct sl_append_req *r)
{
    uint64_t bytes = 0;
    for (size_t i = 0; i < r->n; i++)
        bytes += SL_MSG_HDR_LEN + SL_MSG_KEY_LEN + sl_msg_body_len(r->hdrs ? r->hdrs_lens[i] : 0, r->lens[i]);
    return bytes;
}

/* A request's checks that need no write: the channel still exists, the
 * expectation holds, its message id is not a duplicate (then r->duplicate
 * and r->first_seq say so). A request failing here leaves the transaction
 * clean. */
static int check_request(sl_txn *t, struct sl_append_req *r, sl_chan_rec *rec, int64_t now)
{
    int rc = sl_chan_load_handle(t, r->ch, rec);
    if (rc)
        return rc;
    r->duplicate = 0;
    if (r->msg_id) {
        sl_limits lim;
        sl_chan_limits(r->ch->st, rec, &lim);
        rc = sl_dedup_find(t, rec->id, r->msg_id, r->msg_id_len, now, lim.dedup_window_ms * 1000000, &r->first_seq);
        if (rc == STREAMLOG_OK) {
            r->duplicate = 1;
            return STREAMLOG_OK;
        }
        if (rc != STREAMLOG_ENOTFOUND)
            return rc;
    }
    if (r->has_expect && rec->last_seq != r->expect)
        return sl_fail(STREAMLOG_ECONFLICT, "channel '%s': last sequence is %llu, expected %llu", r->ch->name,
                       (unsigned long long)rec->last_seq, (unsigned long long)r->expect);
    if (r->import_times) {
        /* numbering stays contiguous: it may start anywhere only in a channel holding nothing */
        if (r->import_seq <= rec->last_seq || (rec->msgs > 0 && r->import_seq != rec->last_seq + 1))
            return sl_fail(STREAMLOG_ECONFLICT, "channel '%s': cannot import sequence %llu after %llu%s",
                           r->ch->name, (unsigned long long)r->import_seq, (unsigned long long)rec->last_seq,
                           rec->msgs > 0 ? " (it must be the next one)" : "");
        if (r->import_times[0] < rec->last_time) /* seeking by time needs times that never go back */
            return sl_fail(STREAMLOG_ECONFLICT, "channel '%s': cannot import a time (%lld ns) before its last "
                           "message's (%lld ns)", r->ch->name, (long long)r->import_times[0],
                           (long long)rec->last_time);
    }
    return STREAMLOG_OK;
}

/* Write one checked request's messages into transaction t. A failure here
 * (map or transaction full, out of memory, over max_store_bytes) may leave
 * part of the request written: the caller must not commit t. */
static int write_request(sl_txn *t, struct sl_append_req *r, sl_chan_rec *rec, int64_t now)
{
    streamlog_channel *ch = r->ch;
    streamlog_store *st = ch->st;
    if (now < rec->last_time) /* the clock stepped back: never go backwards */
        now = rec->last_time;
    if (r->import_times && rec->msgs == 0 && r->import_seq > rec->last_seq + 1) {
        rec->first_seq = r->import_seq; /* as if purged up to there */
        rec->last_seq = r->import_seq - 1;
    }

    sl_cursor *c;
    int rc = sl_cursor_open(t, SL_DB_MSGS, &c);
    if (rc)
        return rc;
    uint64_t first = rec->last_seq + 1;
    int try_append = 1; /* MDB_APPEND while this channel holds the largest keys */
    for (size_t i = 0; i < r->n && !rc; i++) {
        uint8_t key[SL_MSG_KEY_LEN];
        void *dst;
        sl_msg_key(key, rec->id, first + i);
        size_t hdrs_len = r->hdrs ? r->hdrs_lens[i] : 0;
        size_t body_len = sl_msg_body_len(hdrs_len, r->lens[i]);
        size_t vlen = SL_MSG_HDR_LEN + body_len;
        rc = STREAMLOG_EEXIST;
        if (try_append) {
            rc = sl_cursor_put_reserve(c, key, sizeof key, vlen, 1, &dst);
            try_append = rc == STREAMLOG_OK;
        }
        if (rc == STREAMLOG_EEXIST)
            rc = sl_cursor_put_reserve(c, key, sizeof key, vlen, 0, &dst);
        if (rc)
            break;
        sl_msg_body_write(dst, hdrs_len ? r->hdrs[i] : NULL, hdrs_len, r->data[i], r->lens[i]);
        sl_msg_hdr_write(dst, key, r->import_times ? r->import_times[i] : now, hdrs_len > 0, body_len);
        rec->bytes += r->lens[i];
    }
    sl_cursor_close(c);
    if (rc)
        return rc;
    rec->last_seq += r->n;
    rec->msgs += r->n;
    if (r->import_times) /* retention's max_age counts from the imported times */
        now = r->import_times[r->n - 1];
    rec->last_time = now;

    sl_limits lim;
    size_t deleted;
    sl_chan_limits(st, rec, &lim);
    /* Count limits are met here (the excess is normally this request alone;
     * a bigger one, left by lowered limits, goes in bounded steps that the
     * background sweep finishes); expiry is bounded per append too. */
    if ((rc = sl_retention_apply(t, rec, &lim, now, APPEND_COUNT_STEP, APPEND_EXPIRY_STEP, &deleted)))
        return rc;
    /* The file's high-water mark bounds live data: measure exactly only
     * when this commit might cross the limit. */
    uint64_t live = 0;
    uint64_t bound = sl_env_high_water(st->env) + 2 * request_bytes(r) + ((uint64_t)1 << 20);
    if (bound > st->max_store_bytes && (rc = sl_live_bytes(t, &live)))
        return rc;
    if (live > st->max_store_bytes)
        return sl_fail(STREAMLOG_EFULL, "store holds %llu bytes of pages, more than max_store_bytes %llu",
                       (unsigned long long)live, (unsigned long long)st->max_store_bytes);
    if ((rc = sl_chan_save(t, ch->name, ch->name_len, rec)))
        return rc;
    if (r->msg_id && (rc = sl_dedup_remember(t, rec->id, r->msg_id, r->msg_id_len, first, now)))
        return rc;
    r->first_seq = first;
    return STREAMLOG_OK;
}

static void set_result(struct sl_append_req *r, int rc)
{
    r->rc = rc;
    if (rc)
        snprintf(r->errmsg, sizeof r->errmsg, "%s", sl_last_error());
}

/* Apply the batch's requests to t. With isolate, each request goes into a
 * nested transaction of its own, so that a failure after it began writing
 * is undone without touching the others; without, a request failing after
 * it wrote spoils t, and the function returns that failure (t must then be
 * aborted and the batch applied again, isolated). Returns 0 otherwise, with
 * every request's result set and *applied counting the successes. */
static int apply_batch(sl_txn *t, struct sl_append_req *batch, int64_t now, int isolate, int *applied)
{
    *applied = 0;
    for (struct sl_append_req *r = batch; r; r = r->next) {
        sl_txn child, *w = t;
        sl_chan_rec rec;
        int rc = check_request(t, r, &rec, now);
        if (!rc && r->duplicate) {
            set_result(r, STREAMLOG_OK);
            continue; /* stored before: nothing to write, its sequence is the result */
        }
        if (!rc && isolate && !(rc = sl_child_begin(t, &child)))
            w = &child;
        if (!rc) {
            rc = write_request(w, r, &rec, now);
            if (w == &child) {
                if (rc)
                    sl_abort(&child);
                else
                    rc = sl_commit(&child);
            } else if (rc) {
                return rc;
            }
        }
        set_result(r, rc);
        *applied += rc == STREAMLOG_OK;
    }
    return STREAMLOG_OK;
}

/* The leader's work: apply and commit a batch of requests.
 *
 * Requests are written straight into one transaction: a nested transaction
 * per request costs LMDB about 3 MB of allocations (a dirty list and a
 * free-page list), which made group commit slower than committing alone and,
 * under sanitizers, slower by orders of magnitude. Almost every failure is
 * found before a request writes (check_request). Only when one fails after
 * writing is the batch applied again with a nested transaction per request.
 * A failure for lack of space first clears reader slots of dead processes,
 * whose snapshots keep pages from being reused. */
struct batch_write {
    struct sl_append_req *batch;
    int64_t now;
    uint64_t written; /* pages written are about twice the records, at most */
    int isolate;      /* a nested transaction per request */
    int spoiled;      /* a request failed after writing into the shared transaction */
};

static int batch_work(sl_txn *t, void *ctx)
{
    struct batch_write *b = ctx;
    int applied = 0;
    int rc = sl_env_reserve_space(t, b->written);
    if (!rc && (rc = apply_batch(t, b->batch, b->now, b->isolate, &applied)))
        b->spoiled = 1;
    return rc ? rc : applied ? STREAMLOG_OK : SL_WRITE_NOTHING;
}

static void commit_batch(streamlog_store *st, struct sl_append_req *batch)
{
    struct batch_write b = {.batch = batch, .now = sl_now_ns()};
    for (struct sl_append_req *r = batch; r; r = r->next)
        b.written += 2 * request_bytes(r);
    int rc = sl_store_write(st, 0, batch_work, &b);
    if (rc && b.spoiled) {
        if (rc == STREAMLOG_EFULL)
            sl_env_clear_stale_readers(st->env);
        /* alone, a request's failure after writing is its result */
        b.isolate = batch->next != NULL;
        b.spoiled = 0;
        rc = sl_store_write(st, 0, batch_work, &b);
    }
    /* A failure before the commit is every request's; a failed commit, that
     * of every request it held. */
    for (struct sl_append_req *r = batch; r; r = r->next) {
        if (r->rc != STREAMLOG_OK)
            continue;
        if (rc)
            set_result(r, rc);
        else if (!r->duplicate)
            sl_notify_channel(&st->notifier, r->ch->id); /* wake this process's subscribers */
    }
}

/* Under cm->mu: wait briefly for the appenders of the last batch to return. */
static void gather(struct sl_committer *cm)
{
    int64_t wait = cm->last_commit_ns / 4;
    if (wait > GATHER_MAX_NS)
        wait = GATHER_MAX_NS;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += wait;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    cm->gathering = 1;
    while (cm->queued < cm->last_batch)
        if (pthread_cond_timedwait(&cm->arrive_cv, &cm->mu, &until))
            break;
    cm->gathering = 0;
}

int sl_append(streamlog_channel *ch, const void *const *data, const size_t *lens, size_t n, int has_expect,
              uint64_t expect, uint64_t *out_first_seq)
{
    return sl_append_msgs(ch, NULL, NULL, data, lens, n, has_expect, expect, out_first_seq);
}

int sl_append_msgs(streamlog_channel *ch, const void *const *hdrs, const size_t *hdrs_lens, const void *const *data,
                   const size_t *lens, size_t n, int has_expect, uint64_t expect, uint64_t *out_first_seq)
{
    return sl_append_once(ch, NULL, 0, hdrs, hdrs_lens, data, lens, n, has_expect, expect, out_first_seq, NULL);
}

void sl_committer_enqueue(struct sl_committer *cm, struct sl_append_req *r)
{
    r->next = NULL;
    r->done = 0;
    if (cm->tail)
        cm->tail->next = r;
    else
        cm->head = r;
    cm->tail = r;
    cm->queued++;
    if (cm->gathering)
        pthread_cond_signal(&cm->arrive_cv);
    else if (!cm->leader_active && cm->head == r)
        pthread_cond_signal(r->wake);
}

void sl_committer_lead(streamlog_store *st)
{
    struct sl_committer *cm = &st->committer;
    cm->leader_active = 1;
    if (st->sync_policy != STREAMLOG_SYNC_NONE && cm->queued < cm->last_batch)
        gather(cm);
    /* Take everything queued so far. */
    struct sl_append_req *batch = cm->head;
    size_t batch_len = cm->queued;
    cm->head = cm->tail = NULL;
    cm->queued = 0;
    pthread_mutex_unlock(&cm->mu);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    commit_batch(st, batch);
    clock_gettime(CLOCK_MONOTONIC, &t1);

    pthread_mutex_lock(&cm->mu);
    cm->last_batch = batch_len;
    cm->last_commit_ns = (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
    for (struct sl_append_req *r = batch, *next; r; r = next) {
        next = r->next; /* r may be freed or go out of scope once done: read first */
        r->done = 1;
        if (r->on_done)
            r->on_done(r);
        else
            pthread_cond_signal(r->wake);
    }
    cm->leader_active = 0;
    if (cm->head) /* the first appender queued meanwhile leads next */
        pthread_cond_signal(cm->head->wake);
}

/* Queue a request and wait for its result, leading commits while no one else does. */
static int run_request(streamlog_store *st, struct sl_append_req *req)
{
    struct sl_committer *cm = &st->committer;
    pthread_cond_t wake;
    if (pthread_cond_init(&wake, NULL))
        return sl_fail(STREAMLOG_ENOMEM, "cannot create a condition variable");
    req->wake = &wake;
    pthread_mutex_lock(&cm->mu);
    sl_committer_enqueue(cm, req);
    while (!req->done) {
        if (cm->leader_active)
            pthread_cond_wait(&wake, &cm->mu);
        else
            sl_committer_lead(st);
    }
    pthread_mutex_unlock(&cm->mu);
    pthread_cond_destroy(&wake);
    return req->rc ? sl_fail(req->rc, "%s", req->errmsg) : STREAMLOG_OK;
}

int sl_append_once(streamlog_channel *ch, const char *msg_id, size_t msg_id_len, const void *const *hdrs,
                   const size_t *hdrs_lens, const void *const *data, const size_t *lens, size_t n, int has_expect,
                   uint64_t expect, uint64_t *out_first_seq, int *out_duplicate)
{
    struct sl_append_req req = {.ch = ch,
                                .data = data,
                                .lens = lens,
                                .hdrs = hdrs,
                                .hdrs_lens = hdrs_lens,
                                .n = n,
                                .has_expect = has_expect,
                                .expect = expect,
                                .msg_id = msg_id,
                                .msg_id_len = msg_id_len};
    int rc = run_request(ch->st, &req);
    if (rc)
        return rc;
    if (out_first_seq)
        *out_first_seq = req.first_seq;
    if (out_duplicate)
        *out_duplicate = req.duplicate;
    return STREAMLOG_OK;
}

int sl_import(streamlog_channel *ch, uint64_t first_seq, const int64_t *times, const void *const *hdrs,
              const size_t *hdrs_lens, const void *const *data, const size_t *lens, size_t n)
{
    struct sl_append_req req = {.ch = ch,
                                .data = data,
                                .lens = lens,
                                .hdrs = hdrs,
                                .hdrs_lens = hdrs_lens,
                                .n = n,
                                .import_times = times,
                                .import_seq = first_seq};
    return run_request(ch->st, &req);
}
