/* A full check of a store, in one read snapshot: every channel record
 * decodes; every message record decodes and passes its checksum, belongs to
 * a channel (or to one whose deletion is being finished) and lies inside its
 * channel's range; each channel's message count and bytes equal what its
 * record says. Damage to LMDB's own pages that LMDB still accepts as pages
 * is only found where it breaks a record; LMDB may also report it as
 * MDB_CORRUPTED or MDB_PAGE_NOTFOUND, which ends the walk with ECORRUPT. */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "encoding.h"
#include "errors.h"
#include "verify.h"

struct chan_tally {
    uint64_t id;
    sl_chan_rec rec;
    uint64_t msgs, bytes;
};

static int by_id(const void *a, const void *b)
{
    uint64_t x = ((const struct chan_tally *)a)->id, y = ((const struct chan_tally *)b)->id;
    return x < y ? -1 : x > y;
}

/* Load every channel record, sorted by id. */
static int load_channels(const sl_txn *t, struct chan_tally **out, size_t *n, streamlog_verify_report *r)
{
    sl_cursor *c;
    int rc = sl_cursor_open(t, SL_DB_CHANNELS, &c);
    if (rc)
        return rc;
    struct chan_tally *v = NULL;
    size_t len = 0, cap = 0;
    sl_val k = {NULL, 0}, val;
    for (rc = sl_cursor_get(c, SL_FIRST, &k, &val); rc == STREAMLOG_OK; rc = sl_cursor_get(c, SL_NEXT, &k, &val)) {
        r->channels++;
        sl_chan_rec rec;
        if (sl_chan_rec_decode(&val, &rec)) {
            r->damaged_channels++;
            continue;
        }
        if (len == cap) {
            cap = cap ? 2 * cap : 16;
            struct chan_tally *nv = sl_realloc(v, cap * sizeof *v);
            if (!nv) {
                sl_free(v);
                sl_cursor_close(c);
                return sl_fail(STREAMLOG_ENOMEM, "out of memory verifying the store");
            }
            v = nv;
        }
        v[len++] = (struct chan_tally){.id = rec.id, .rec = rec};
    }
    sl_cursor_close(c);
    if (rc != STREAMLOG_ENOTFOUND) {
        sl_free(v);
        return rc;
    }
    qsort(v, len, sizeof *v, by_id);
    *out = v;
    *n = len;
    return STREAMLOG_OK;
}

static int is_tombstoned(const sl_txn *t, uint64_t id)
{
    uint8_t key[8];
    sl_val v;
    sl_be64_put(key, id);
    return sl_get(t, SL_DB_TOMBSTONES, key, sizeof key, &v) == STREAMLOG_OK;
}

static int walk_messages(const sl_txn *t, struct chan_tally *chans, size_t nchans, streamlog_verify_report *r)
{
    sl_cursor *c;
    int rc = sl_cursor_open(t, SL_DB_MSGS, &c);
    if (rc)
        return rc;
    uint64_t tomb_id = 0; /* the last id found tombstoned, to ask once per channel */
    sl_val k = {NULL, 0}, val;
    for (rc = sl_cursor_get(c, SL_FIRST, &k, &val); rc == STREAMLOG_OK; rc = sl_cursor_get(c, SL_NEXT, &k, &val)) {
        r->messages++;
        sl_msg_rec m;
        if (sl_msg_decode(&k, &val, &m)) {
            r->damaged_messages++;
            continue;
        }
        struct chan_tally key = {.id = m.chan_id};
        struct chan_tally *ch = bsearch(&key, chans, nchans, sizeof *chans, by_id);
        if (!ch) {
            if (m.chan_id == tomb_id || is_tombstoned(t, m.chan_id))
                tomb_id = m.chan_id; /* a deletion the maintenance thread is finishing */
            else
                r->orphan_messages++;
            continue;
        }
        if (m.seq < ch->rec.first_seq || m.seq > ch->rec.last_seq)
            r->out_of_range_messages++;
        ch->msgs++;
        ch->bytes += m.len;
        r->bytes += m.len;
    }
    sl_cursor_close(c);
    return rc == STREAMLOG_ENOTFOUND ? STREAMLOG_OK : rc;
}

int sl_verify(streamlog_store *st, streamlog_verify_report *out)
{
    streamlog_verify_report r;
    memset(&r, 0, sizeof r);
    sl_txn t;
    int rc = sl_read_begin(st->env, &t);
    if (rc)
        return rc;
    struct chan_tally *chans = NULL;
    size_t nchans = 0;
    rc = load_channels(&t, &chans, &nchans, &r);
    if (!rc)
        rc = walk_messages(&t, chans, nchans, &r);
    sl_read_end(&t);
    for (size_t i = 0; i < nchans && !rc; i++)
        if (chans[i].msgs != chans[i].rec.msgs || chans[i].bytes != chans[i].rec.bytes)
            r.counter_mismatches++;
    sl_free(chans);
    if (rc)
        return rc;
    /* the caller's struct may be older (smaller) than ours: fill what it has */
    uint32_t size = out->size < sizeof r ? out->size : (uint32_t)sizeof r;
    r.size = size;
    memcpy(out, &r, size);
    uint64_t damage = r.damaged_channels + r.damaged_messages + r.orphan_messages + r.out_of_range_messages +
                      r.counter_mismatches;
    if (damage)
        return sl_fail(STREAMLOG_ECORRUPT,
                       "the store is damaged: %llu channel record(s), %llu message record(s) failing their "
                       "checks, %llu orphaned and %llu out-of-range message(s), %llu channel(s) whose counters "
                       "disagree",
                       (unsigned long long)r.damaged_channels, (unsigned long long)r.damaged_messages,
                       (unsigned long long)r.orphan_messages, (unsigned long long)r.out_of_range_messages,
                       (unsigned long long)r.counter_mismatches);
    return STREAMLOG_OK;
}
