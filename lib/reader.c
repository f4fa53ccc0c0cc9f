/* Reading. Iterators hold an LMDB read snapshot only between a call that
 * returns a view and the next call, and take a fresh snapshot every
 * RENEW_EVERY messages and whenever they catch up, so a slow or idle reader
 * never pins old pages (which would make the file grow). */
#include <string.h>

#include "alloc.h"
#include "chanrec.h"
#include "clock.h"
#include "errors.h"
#include "reader.h"
#include "retention.h"

#define RENEW_EVERY 1024

struct streamlog_iter {
    streamlog_channel ch;      /* a copy: the iterator outlives no store, but may outlive its channel handle */
    sl_txn txn;
    int active;                /* txn holds a snapshot */
    int positioned;            /* cursor sits on the message last returned */
    unsigned since_renew;
    sl_cursor *cursor;
    uint64_t next_seq;
    sl_limits limits;          /* the channel's limits when the snapshot was taken */
    streamlog_msg view;
};

/* ---- owned messages ---- */

int sl_msg_copy(const streamlog_msg *from, streamlog_msg **out)
{
    streamlog_msg *m = sl_malloc(sizeof *m + from->len + from->hdrs_len);
    if (!m)
        return sl_fail(STREAMLOG_ENOMEM, "out of memory copying a message of %zu bytes", from->len + from->hdrs_len);
    *m = *from;
    uint8_t *inline_bytes = (uint8_t *)(m + 1);
    m->data = from->len ? memcpy(inline_bytes, from->data, from->len) : NULL;
    m->hdrs = from->hdrs_len ? memcpy(inline_bytes + from->len, from->hdrs, from->hdrs_len) : NULL;
    m->owned = 1;
    *out = m;
    return STREAMLOG_OK;
}

/* The view of a decoded record. */
static streamlog_msg view_of(const sl_msg_rec *m)
{
    return (streamlog_msg){
        .seq = m->seq, .time = m->time, .data = m->data, .len = m->len, .hdrs = m->hdrs, .hdrs_len = m->hdrs_len};
}

void sl_msg_free(streamlog_msg *m)
{
    if (m && m->owned)
        sl_free(m);
}

/* Read message seq of the channel described by rec, honouring expiry. */
static int read_msg(const sl_txn *t, const sl_chan_rec *rec, int64_t cutoff, uint64_t seq, sl_msg_rec *out)
{
    if (seq < rec->first_seq || seq > rec->last_seq)
        return STREAMLOG_ENOTFOUND;
    uint8_t kbuf[SL_MSG_KEY_LEN];
    sl_msg_key(kbuf, rec->id, seq);
    sl_val k = {kbuf, sizeof kbuf}, v;
    int rc = sl_get(t, SL_DB_MSGS, kbuf, sizeof kbuf, &v);
    if (rc == STREAMLOG_ENOTFOUND)
        return sl_fail(STREAMLOG_ECORRUPT, "channel %llu: message %llu is missing inside the stored range",
                       (unsigned long long)rec->id, (unsigned long long)seq);
    if (rc || (rc = sl_msg_decode(&k, &v, out)))
        return rc;
    return out->time < cutoff ? STREAMLOG_ENOTFOUND : STREAMLOG_OK;
}

int sl_get_msg(streamlog_channel *ch, uint64_t seq, streamlog_msg **out)
{
    sl_txn t;
    streamlog_msg view;
    int rc = sl_read_view(ch, seq, &t, &view);
    if (rc == STREAMLOG_ENOTFOUND)
        return sl_fail(STREAMLOG_ENOTFOUND, "channel '%s' has no message %llu", ch->name, (unsigned long long)seq);
    if (rc)
        return rc;
    rc = sl_msg_copy(&view, out);
    sl_read_end(&t);
    return rc;
}

/* ---- start positions ---- */

/* First sequence with time >= t_ns (binary search: times never decrease). */
static int seek_time(const sl_txn *t, const sl_chan_rec *rec, int64_t t_ns, uint64_t *out)
{
    uint64_t lo = rec->first_seq, hi = rec->last_seq + 1; /* answer in [lo, hi] */
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        sl_msg_rec m;
        int rc = read_msg(t, rec, INT64_MIN, mid, &m);
        if (rc)
            return rc;
        if (m.time >= t_ns)
            hi = mid;
        else
            lo = mid + 1;
    }
    *out = lo;
    return STREAMLOG_OK;
}

int sl_resolve_start(const sl_txn *t, streamlog_channel *ch, int start, int64_t start_value, uint64_t *out_seq)
{
    sl_chan_rec rec;
    int rc = sl_chan_load_handle(t, ch, &rec);
    if (rc)
        return rc;
    int64_t now = sl_now_ns();
    uint64_t seq; /* expired messages at or after seq are skipped when read */
    switch (start) {
    case STREAMLOG_START_NEW_ONLY:
        seq = rec.last_seq + 1;
        break;
    case STREAMLOG_START_LAST_RECEIVED:
        seq = rec.msgs ? rec.last_seq : rec.last_seq + 1;
        break;
    case STREAMLOG_START_FIRST:
        seq = rec.first_seq;
        break;
    case STREAMLOG_START_SEQUENCE:
        seq = (uint64_t)start_value;
        if (seq < rec.first_seq)
            seq = rec.first_seq;
        else if (seq > rec.last_seq)
            seq = rec.last_seq + 1;
        break;
    case STREAMLOG_START_TIME_DELTA:
    case STREAMLOG_START_TIME: {
        int64_t t_ns = start == STREAMLOG_START_TIME ? start_value : now - start_value;
        if ((rc = seek_time(t, &rec, t_ns, &seq)))
            return rc;
        break;
    }
    default:
        return sl_fail(STREAMLOG_EINVAL, "unknown start position %d", start);
    }
    *out_seq = seq;
    return STREAMLOG_OK;
}

/* ---- iterators ---- */

int sl_iter_open(streamlog_channel *ch, int start, int64_t start_value, streamlog_iter **out)
{
    streamlog_store *st = ch->st;
    streamlog_iter *it = sl_calloc(1, sizeof *it);
    if (!it)
        return sl_fail(STREAMLOG_ENOMEM, "out of memory opening an iterator");
    it->ch = *ch;
    sl_txn t;
    int rc = sl_read_begin(st->env, &t);
    if (rc)
        goto fail;
    rc = sl_resolve_start(&t, ch, start, start_value, &it->next_seq);
    if (!rc)
        rc = sl_cursor_open(&t, SL_DB_MSGS, &it->cursor);
    sl_read_end(&t);
    if (rc)
        goto fail;
    atomic_fetch_add(&st->children, 1);
    *out = it;
    return STREAMLOG_OK;
fail:
    sl_free(it);
    return rc;
}

static void release_snapshot(streamlog_iter *it)
{
    if (it->active) {
        sl_read_end(&it->txn);
        it->active = 0;
        it->positioned = 0;
    }
}

/* Take a fresh snapshot: the channel may have grown, shrunk or been deleted. */
static int renew_snapshot(streamlog_iter *it)
{
    streamlog_store *st = it->ch.st;
    int rc = sl_read_begin(st->env, &it->txn);
    if (rc)
        return rc;
    sl_chan_rec rec;
    rc = sl_chan_load_handle(&it->txn, &it->ch, &rec);
    if (!rc)
        rc = sl_cursor_renew(&it->txn, it->cursor);
    if (rc) {
        sl_read_end(&it->txn);
        return rc;
    }
    sl_chan_limits(st, &rec, &it->limits);
    if (it->next_seq < rec.first_seq)
        it->next_seq = rec.first_seq;
    it->active = 1;
    it->positioned = 0;
    it->since_renew = 0;
    return STREAMLOG_OK;
}

int sl_iter_next(streamlog_iter *it, const streamlog_msg **out)
{
    int fresh = 0; /* whether this call took a fresh snapshot */
    /* Keep the snapshot only while nothing was committed since (deletions,
     * pruning and new limits must be seen) and for a bounded run of messages. */
    if (it->active && (it->since_renew >= RENEW_EVERY || !sl_read_is_latest(&it->txn)))
        release_snapshot(it);
    for (;;) {
        int rc;
        if (!it->active) {
            if ((rc = renew_snapshot(it)))
                return rc;
            fresh = 1;
        }
        uint8_t kbuf[SL_MSG_KEY_LEN];
        sl_val k, v;
        if (it->positioned) {
            rc = sl_cursor_get(it->cursor, SL_NEXT, &k, &v);
        } else {
            sl_msg_key(kbuf, it->ch.id, it->next_seq);
            k = (sl_val){kbuf, sizeof kbuf};
            rc = sl_cursor_get(it->cursor, SL_SEEK_GE, &k, &v);
        }
        if (rc == STREAMLOG_ENOTFOUND || (!rc && (k.len != SL_MSG_KEY_LEN || sl_be64_get(k.data) != it->ch.id))) {
            /* caught up with this snapshot: look once more in a fresh one */
            release_snapshot(it);
            if (fresh)
                return STREAMLOG_EAGAIN;
            continue;
        }
        if (rc)
            return rc;
        sl_msg_rec m;
        if ((rc = sl_msg_decode(&k, &v, &m)))
            return rc;
        it->positioned = 1;
        it->next_seq = m.seq + 1;
        if (it->limits.max_age_ms > 0 && m.time < sl_expiry_cutoff(&it->limits, sl_now_ns()))
            continue; /* expired, not yet reclaimed */
        it->since_renew++;
        it->view = view_of(&m);
        *out = &it->view;
        return STREAMLOG_OK;
    }
}

void sl_iter_release(streamlog_iter *it)
{
    release_snapshot(it);
}

void sl_iter_seek(streamlog_iter *it, uint64_t seq)
{
    it->next_seq = seq;
    it->positioned = 0;
}

int sl_read_view(streamlog_channel *ch, uint64_t seq, sl_txn *txn, streamlog_msg *view)
{
    streamlog_store *st = ch->st;
    sl_chan_rec rec;
    sl_limits lim;
    sl_msg_rec m = {0};
    int rc = sl_read_begin(st->env, txn);
    if (rc)
        return rc;
    rc = sl_chan_load_handle(txn, ch, &rec);
    if (!rc) {
        sl_chan_limits(st, &rec, &lim);
        rc = read_msg(txn, &rec, sl_expiry_cutoff(&lim, sl_now_ns()), seq, &m);
    }
    if (rc) {
        sl_read_end(txn);
        return rc;
    }
    *view = view_of(&m);
    return STREAMLOG_OK;
}

uint64_t sl_iter_position(const streamlog_iter *it)
{
    return it->next_seq;
}

void sl_iter_close(streamlog_iter *it)
{
    release_snapshot(it);
    sl_cursor_close(it->cursor);
    atomic_fetch_sub(&it->ch.st->children, 1);
    sl_free(it);
}
