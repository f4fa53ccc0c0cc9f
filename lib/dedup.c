/* Two databases: by id, (channel id, message id) -> (seq, time), for the
 * append's lookup; and by time, (time, channel id, message id), so that
 * expiry walks only what is old. An id appended again after its window
 * gets a new time; the older expiry entry then finds a newer record and
 * leaves it alone. */
#include <string.h>

#include "clock.h"
#include "dedup.h"
#include "encoding.h"
#include "errors.h"
#include "write.h"

#define EXPIRE_STEP 10000 /* ids forgotten per commit */

static size_t id_key(uint8_t *key, uint64_t chan_id, const char *id, size_t id_len)
{
    sl_be64_put(key, chan_id);
    memcpy(key + 8, id, id_len);
    return 8 + id_len;
}

int sl_dedup_find(const sl_txn *t, uint64_t chan_id, const char *id, size_t id_len, int64_t now, int64_t window_ns,
                  uint64_t *seq)
{
    uint8_t key[8 + SL_MSG_ID_MAX];
    sl_val v;
    int rc = sl_get(t, SL_DB_DEDUP, key, id_key(key, chan_id, id, id_len), &v);
    if (rc)
        return rc;
    if (v.len != 16)
        return sl_fail(STREAMLOG_ECORRUPT, "malformed message-id record in channel id %llu",
                       (unsigned long long)chan_id);
    int64_t when = (int64_t)sl_be64_get((const uint8_t *)v.data + 8);
    if (now - when >= window_ns)
        return STREAMLOG_ENOTFOUND; /* remembered, but its window is over */
    *seq = sl_be64_get(v.data);
    return STREAMLOG_OK;
}

int sl_dedup_remember(sl_txn *t, uint64_t chan_id, const char *id, size_t id_len, uint64_t seq, int64_t now)
{
    uint8_t key[8 + 8 + SL_MSG_ID_MAX], val[16];
    sl_be64_put(val, seq);
    sl_be64_put(val + 8, (uint64_t)now);
    size_t klen = id_key(key + 8, chan_id, id, id_len);
    int rc = sl_put(t, SL_DB_DEDUP, key + 8, klen, val, sizeof val);
    if (rc)
        return rc;
    sl_be64_put(key, (uint64_t)now);
    return sl_put(t, SL_DB_DEDUP_EXPIRY, key, 8 + klen, "", 0);
}

struct expire_step {
    int64_t cutoff;
    size_t removed;
};

/* One bounded step of forgetting ids older than the cutoff. */
static int expire_work(sl_txn *t, void *ctx)
{
    struct expire_step *e = ctx;
    e->removed = 0;
    sl_cursor *c;
    int rc = sl_cursor_open(t, SL_DB_DEDUP_EXPIRY, &c);
    if (rc)
        return rc;
    sl_val k = {NULL, 0};
    while (e->removed < EXPIRE_STEP && (rc = sl_cursor_get(c, SL_FIRST, &k, NULL)) == STREAMLOG_OK) {
        if (k.len < 16 || (int64_t)sl_be64_get(k.data) >= e->cutoff)
            break;
        /* the id's record, unless a later append renewed it */
        uint8_t idkey[8 + SL_MSG_ID_MAX];
        size_t idlen = k.len - 8 < sizeof idkey ? k.len - 8 : sizeof idkey;
        memcpy(idkey, (const uint8_t *)k.data + 8, idlen);
        int64_t when = (int64_t)sl_be64_get(k.data);
        sl_val v;
        if ((rc = sl_cursor_del(c)))
            break;
        e->removed++;
        if (sl_get(t, SL_DB_DEDUP, idkey, idlen, &v) == STREAMLOG_OK && v.len == 16 &&
            (int64_t)sl_be64_get((const uint8_t *)v.data + 8) == when && (rc = sl_del(t, SL_DB_DEDUP, idkey, idlen)))
            break;
    }
    sl_cursor_close(c);
    if (rc == STREAMLOG_ENOTFOUND)
        rc = STREAMLOG_OK;
    return rc ? rc : e->removed ? STREAMLOG_OK : SL_WRITE_NOTHING;
}

/* One bounded step; returns how many expiry entries it removed. Losing it to
 * a crash only keeps ids a little longer: relaxed. */
static int expire_step(streamlog_store *st, int64_t cutoff, size_t *removed)
{
    struct expire_step e = {cutoff, 0};
    int rc = sl_store_write(st, 1, expire_work, &e);
    *removed = rc ? 0 : e.removed;
    return rc;
}

/* Whether the oldest remembered id is older than cutoff: a read, so that a
 * store with nothing to forget never takes the writers' lock for it. */
static int anything_expired(streamlog_store *st, int64_t cutoff)
{
    sl_txn t;
    sl_cursor *c;
    if (sl_read_begin(st->env, &t))
        return 0;
    int expired = 0;
    if (sl_cursor_open(&t, SL_DB_DEDUP_EXPIRY, &c) == STREAMLOG_OK) {
        sl_val k = {NULL, 0};
        expired = sl_cursor_get(c, SL_FIRST, &k, NULL) == STREAMLOG_OK && k.len >= 8 &&
                  (int64_t)sl_be64_get(k.data) < cutoff;
        sl_cursor_close(c);
    }
    sl_read_end(&t);
    return expired;
}

/* The longest dedup window in force: the store's, or a channel's own. Ids
 * of channels with shorter windows may stay longer than theirs; a lookup
 * judges an id by its own channel's window. */
static int64_t longest_window_ms(streamlog_store *st)
{
    int64_t longest = st->defaults.dedup_window_ms;
    sl_txn t;
    sl_cursor *c;
    if (sl_read_begin(st->env, &t))
        return longest;
    if (sl_cursor_open(&t, SL_DB_CHANNELS, &c) == STREAMLOG_OK) {
        sl_val k = {NULL, 0}, v;
        for (int rc = sl_cursor_get(c, SL_FIRST, &k, &v); rc == STREAMLOG_OK; rc = sl_cursor_get(c, SL_NEXT, &k, &v)) {
            sl_chan_rec rec;
            if (sl_chan_rec_decode(&v, &rec) == STREAMLOG_OK && (rec.own & SL_OWN_DEDUP) &&
                rec.limits.dedup_window_ms > longest)
                longest = rec.limits.dedup_window_ms;
        }
        sl_cursor_close(c);
    }
    sl_read_end(&t);
    return longest;
}

void sl_dedup_expire(streamlog_store *st)
{
    int64_t cutoff = sl_now_ns() - longest_window_ms(st) * 1000000;
    if (!anything_expired(st, cutoff))
        return;
    size_t removed;
    do {
        if (sl_store_writable(st) || expire_step(st, cutoff, &removed))
            return;
    } while (removed == EXPIRE_STEP);
}
