/* Retention. Messages are only ever removed from the front of a channel, so
 * its sequences stay contiguous between first_seq and last_seq. */
#include <string.h>

#include "alloc.h"
#include "chanrec.h"
#include "clock.h"
#include "errors.h"
#include "retention.h"
#include "write.h"

#define RETENTION_STEP 10000 /* deletions per commit outside appends */

int64_t sl_expiry_cutoff(const sl_limits *lim, int64_t now)
{
    if (lim->max_age_ms <= 0)
        return INT64_MIN;
    if (lim->max_age_ms > INT64_MAX / 1000000) /* older than anything a clock can show */
        return INT64_MIN + 1;
    return now - lim->max_age_ms * 1000000;
}

static int over_count(const sl_chan_rec *rec, const sl_limits *lim)
{
    if (rec->msgs <= 1) /* the newest message always stays */
        return 0;
    return (lim->max_msgs > 0 && rec->msgs > (uint64_t)lim->max_msgs) ||
           (lim->max_bytes > 0 && rec->bytes > (uint64_t)lim->max_bytes);
}

/* Read the channel's first message. */
static int first_msg(sl_cursor *c, const sl_chan_rec *rec, sl_msg_rec *out)
{
    uint8_t kbuf[SL_MSG_KEY_LEN];
    sl_msg_key(kbuf, rec->id, rec->first_seq);
    sl_val k = {kbuf, sizeof kbuf}, v;
    int rc = sl_cursor_get(c, SL_SEEK_GE, &k, &v);
    if (rc == STREAMLOG_ENOTFOUND || (!rc && (k.len != SL_MSG_KEY_LEN || sl_be64_get(k.data) != rec->id)))
        return sl_fail(STREAMLOG_ECORRUPT, "channel %llu: counters say %llu message(s) but none is stored",
                       (unsigned long long)rec->id, (unsigned long long)rec->msgs);
    if (rc)
        return rc;
    return sl_msg_decode(&k, &v, out);
}

/* Delete the first message m, where first_msg left the cursor, and count it
 * out of the channel's record. */
static int drop_first(sl_cursor *c, sl_chan_rec *rec, const sl_msg_rec *m)
{
    int rc = sl_cursor_del(c);
    if (rc)
        return rc;
    rec->msgs--;
    rec->bytes -= m->len <= rec->bytes ? m->len : rec->bytes;
    rec->first_seq = m->seq + 1;
    return STREAMLOG_OK;
}

int sl_retention_apply(sl_txn *t, sl_chan_rec *rec, const sl_limits *lim, int64_t now, size_t max_count,
                       size_t max_expired, size_t *deleted)
{
    size_t by_count_n = 0, expired_n = 0;
    int64_t cutoff = sl_expiry_cutoff(lim, now);
    *deleted = 0;
    if (!over_count(rec, lim) && cutoff == INT64_MIN)
        return STREAMLOG_OK;
    sl_cursor *c;
    int rc = sl_cursor_open(t, SL_DB_MSGS, &c);
    if (rc)
        return rc;
    while (rec->msgs > 0) {
        int by_count = over_count(rec, lim) && by_count_n < max_count;
        if (!by_count && (cutoff == INT64_MIN || expired_n >= max_expired))
            break;
        sl_msg_rec m;
        if ((rc = first_msg(c, rec, &m)))
            break;
        if (!by_count && m.time >= cutoff)
            break;
        if (by_count)
            by_count_n++;
        else
            expired_n++;
        if ((rc = drop_first(c, rec, &m)))
            break;
        (*deleted)++;
    }
    sl_cursor_close(c);
    return rc;
}

struct purge_write {
    const streamlog_channel *ch;
    uint64_t upto_seq;
    size_t n; /* removed by the step */
};

static int purge_work(sl_txn *t, void *ctx)
{
    struct purge_write *p = ctx;
    sl_chan_rec rec;
    sl_cursor *c = NULL;
    p->n = 0;
    int rc = sl_chan_load_handle(t, p->ch, &rec);
    if (!rc)
        rc = sl_cursor_open(t, SL_DB_MSGS, &c);
    while (!rc && rec.msgs > 0 && rec.first_seq <= p->upto_seq && p->n < RETENTION_STEP) {
        sl_msg_rec m;
        if ((rc = first_msg(c, &rec, &m)) || (rc = drop_first(c, &rec, &m)))
            break;
        p->n++;
    }
    sl_cursor_close(c);
    if (!rc && p->n)
        rc = sl_chan_save(t, p->ch->name, p->ch->name_len, &rec);
    return rc ? rc : p->n ? STREAMLOG_OK : SL_WRITE_NOTHING;
}

int sl_retention_purge(streamlog_store *st, const streamlog_channel *ch, uint64_t upto_seq, uint64_t *removed)
{
    struct purge_write p = {ch, upto_seq, 0};
    int rc;
    *removed = 0;
    while (!(rc = sl_store_write(st, 0, purge_work, &p)) && p.n)
        *removed += p.n;
    return rc;
}

/* More to do after a bounded step? Count limits are known from the record;
 * for age, one more step finds out cheaply. */
static int more_to_do(const sl_chan_rec *rec, const sl_limits *lim)
{
    return over_count(rec, lim) || (lim->max_age_ms > 0 && rec->msgs > 0);
}

int sl_retention_expired(const sl_txn *t, const sl_chan_rec *rec, const sl_limits *lim, int64_t now)
{
    if (over_count(rec, lim))
        return 1;
    int64_t cutoff = sl_expiry_cutoff(lim, now);
    if (cutoff == INT64_MIN || rec->msgs == 0)
        return 0;
    sl_cursor *c;
    if (sl_cursor_open(t, SL_DB_MSGS, &c))
        return 0;
    sl_msg_rec m;
    int expired = first_msg(c, rec, &m) == STREAMLOG_OK && m.time < cutoff;
    sl_cursor_close(c);
    return expired;
}

struct run_write {
    streamlog_store *st;
    const streamlog_channel *ch;
    sl_chan_rec rec;
    sl_limits lim;
    size_t deleted;
};

static int run_work(sl_txn *t, void *ctx)
{
    struct run_write *r = ctx;
    r->deleted = 0;
    int rc = sl_chan_load_handle(t, r->ch, &r->rec);
    if (!rc) {
        sl_chan_limits(r->st, &r->rec, &r->lim);
        rc = sl_retention_apply(t, &r->rec, &r->lim, sl_now_ns(), RETENTION_STEP, RETENTION_STEP, &r->deleted);
    }
    if (!rc && r->deleted)
        rc = sl_chan_save(t, r->ch->name, r->ch->name_len, &r->rec);
    return rc ? rc : r->deleted ? STREAMLOG_OK : SL_WRITE_NOTHING;
}

int sl_retention_run(streamlog_store *st, const streamlog_channel *ch)
{
    struct run_write r = {.st = st, .ch = ch};
    int rc;
    while (!(rc = sl_store_write(st, 0, run_work, &r)) && r.deleted && more_to_do(&r.rec, &r.lim))
        ;
    return rc;
}

/* Channels found needing work, collected under a read snapshot and then
 * handled one commit at a time. */
struct pending {
    streamlog_channel *items;
    size_t len, cap;
};

static void pending_add(struct pending *p, const sl_val *name, uint64_t id, streamlog_store *st)
{
    if (name->len > SL_NAME_MAX)
        return;
    if (p->len == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        streamlog_channel *items = sl_malloc(cap * sizeof *items);
        if (!items)
            return; /* try again at the next sweep */
        if (p->len)
            memcpy(items, p->items, p->len * sizeof *items);
        sl_free(p->items);
        p->items = items;
        p->cap = cap;
    }
    streamlog_channel *ch = &p->items[p->len++];
    ch->st = st;
    ch->id = id;
    ch->name_len = name->len;
    memcpy(ch->name, name->data, name->len);
    ch->name[name->len] = '\0';
}

void sl_retention_sweep(streamlog_store *st)
{
    if (sl_store_writable(st))
        return;
    struct pending todo = {0};
    sl_txn t;
    sl_cursor *c;
    if (sl_read_begin(st->env, &t))
        return;
    if (sl_cursor_open(&t, SL_DB_CHANNELS, &c) == STREAMLOG_OK) {
        int64_t now = sl_now_ns();
        sl_val k = {NULL, 0}, v;
        for (int rc = sl_cursor_get(c, SL_FIRST, &k, &v); rc == STREAMLOG_OK; rc = sl_cursor_get(c, SL_NEXT, &k, &v)) {
            sl_chan_rec rec;
            sl_limits lim;
            if (sl_chan_rec_decode(&v, &rec))
                continue;
            sl_chan_limits(st, &rec, &lim);
            if (sl_retention_expired(&t, &rec, &lim, now))
                pending_add(&todo, &k, rec.id, st);
        }
        sl_cursor_close(c);
    }
    sl_read_end(&t);
    for (size_t i = 0; i < todo.len; i++)
        sl_retention_run(st, &todo.items[i]); /* a channel deleted meanwhile just reports ECLOSED */
    sl_free(todo.items);
}
