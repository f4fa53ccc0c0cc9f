/* Channels. A channel record (encoding.h) lives under the channel's name and
 * carries its numeric id, sequence range, counters and own limits. Messages
 * are keyed by (id, seq); ids are never reused, so a channel deleted and
 * created again under the same name starts afresh and old handles can tell. */
#include <string.h>

#include "alloc.h"
#include "channels.h"
#include "chanrec.h"
#include "clock.h"
#include "errors.h"
#include "groups.h"
#include "retention.h"
#include "write.h"

#define PURGE_STEP 10000 /* deletions per commit when purging a deleted channel */

static uint32_t own_bits(uint64_t keys)
{
    return ((keys & SL_KEYBIT(STREAMLOG_OPT_MAX_MSGS)) ? SL_OWN_MAX_MSGS : 0) |
           ((keys & SL_KEYBIT(STREAMLOG_OPT_MAX_BYTES)) ? SL_OWN_MAX_BYTES : 0) |
           ((keys & SL_KEYBIT(STREAMLOG_OPT_MAX_AGE_MS)) ? SL_OWN_MAX_AGE : 0) |
           ((keys & SL_KEYBIT(STREAMLOG_OPT_MAX_SUBS)) ? SL_OWN_MAX_SUBS : 0) |
           ((keys & SL_KEYBIT(STREAMLOG_OPT_DEDUP_WINDOW_MS)) ? SL_OWN_DEDUP : 0);
}

/* In a write transaction: create the channel, or update its own limits.
 * Sets *id; *changed tells whether anything was written. */
static int create_or_update(streamlog_store *st, sl_txn *t, const char *name, size_t nlen, uint32_t flags,
                            const streamlog_opts *limits, uint64_t *id)
{
    sl_chan_rec rec;
    int rc = sl_chan_load(t, name, nlen, &rec);
    if (rc == STREAMLOG_ENOTFOUND) {
        if (!(flags & STREAMLOG_CREATE))
            return sl_fail(STREAMLOG_ENOTFOUND, "channel '%s' does not exist", name);
        uint64_t count;
        if ((rc = sl_meta_get(t, SL_META_CHANNELS, &count)))
            return rc;
        if (st->max_channels && count >= st->max_channels)
            return sl_fail(STREAMLOG_ELIMIT, "the store already holds %llu channels (max_channels)",
                           (unsigned long long)count);
        memset(&rec, 0, sizeof rec);
        rec.first_seq = 1;
        rec.created = sl_now_ns();
        rec.own = own_bits(sl_opts_apply_limits(limits, &rec.limits));
        if ((rc = sl_meta_next(t, SL_META_NEXT_CHAN_ID, &rec.id)) ||
            (rc = sl_meta_put(t, SL_META_CHANNELS, count + 1)))
            return rc;
    } else if (rc) {
        return rc;
    } else {
        rec.own |= own_bits(sl_opts_apply_limits(limits, &rec.limits));
    }
    *id = rec.id;
    return sl_chan_save(t, name, nlen, &rec);
}

struct open_write {
    streamlog_store *st;
    const char *name;
    size_t nlen;
    uint32_t flags;
    const streamlog_opts *limits;
    uint64_t *id;
};

static int open_work(sl_txn *t, void *ctx)
{
    struct open_write *w = ctx;
    return create_or_update(w->st, t, w->name, w->nlen, w->flags, w->limits, w->id);
}

int sl_channel_open(streamlog_store *st, const char *name, uint32_t flags, const streamlog_opts *limits,
                    streamlog_channel **out)
{
    size_t nlen = strlen(name);
    streamlog_channel *ch = sl_calloc(1, sizeof *ch);
    if (!ch)
        return sl_fail(STREAMLOG_ENOMEM, "out of memory opening channel '%s'", name);

    /* Most opens find the channel and change nothing: a read suffices. */
    sl_txn t;
    sl_chan_rec rec;
    int rc = sl_read_begin(st->env, &t);
    if (rc)
        goto fail;
    rc = sl_chan_load(&t, name, nlen, &rec);
    sl_read_end(&t);
    int need_write = rc == STREAMLOG_ENOTFOUND || (rc == STREAMLOG_OK && limits && (limits->set & SL_KEYS_LIMITS));
    if (rc == STREAMLOG_ENOTFOUND && !(flags & STREAMLOG_CREATE)) {
        rc = sl_fail(STREAMLOG_ENOTFOUND, "channel '%s' does not exist", name);
        goto fail;
    }
    if (rc && rc != STREAMLOG_ENOTFOUND)
        goto fail;
    if (need_write) {
        struct open_write w = {st, name, nlen, flags, limits, &ch->id};
        if ((rc = sl_store_write(st, 0, open_work, &w)))
            goto fail;
    } else {
        ch->id = rec.id;
    }
    ch->st = st;
    ch->name_len = nlen;
    memcpy(ch->name, name, nlen + 1);
    if (need_write) {
        /* new limits may remove messages at once */
        rc = sl_retention_run(st, ch);
        if (rc)
            goto fail;
    }
    atomic_fetch_add(&st->children, 1);
    *out = ch;
    return STREAMLOG_OK;
fail:
    sl_free(ch);
    return rc;
}

void sl_channel_close(streamlog_channel *ch)
{
    atomic_fetch_sub(&ch->st->children, 1);
    sl_free(ch);
}

struct purge_step {
    uint64_t id;
    int done; /* every message and the tombstone are gone */
};

/* Up to PURGE_STEP messages of a deleted channel, and its tombstone after the last. */
static int purge_step_work(sl_txn *t, void *ctx)
{
    struct purge_step *p = ctx;
    sl_cursor *c;
    int rc = sl_cursor_open(t, SL_DB_MSGS, &c);
    if (rc)
        return rc;
    /* deleting from the front: seek the channel's first key each time */
    uint8_t kbuf[SL_MSG_KEY_LEN];
    for (int n = 0; n < PURGE_STEP; n++) {
        sl_msg_key(kbuf, p->id, 0);
        sl_val k = {kbuf, sizeof kbuf};
        rc = sl_cursor_get(c, SL_SEEK_GE, &k, NULL);
        if (rc == STREAMLOG_ENOTFOUND || (!rc && (k.len != SL_MSG_KEY_LEN || sl_be64_get(k.data) != p->id))) {
            rc = STREAMLOG_OK;
            p->done = 1;
            break;
        }
        if (rc || (rc = sl_cursor_del(c)))
            break;
    }
    sl_cursor_close(c);
    if (!rc && p->done) {
        uint8_t tomb_key[8];
        sl_be64_put(tomb_key, p->id);
        rc = sl_del(t, SL_DB_TOMBSTONES, tomb_key, sizeof tomb_key);
        if (rc == STREAMLOG_ENOTFOUND)
            rc = STREAMLOG_OK;
    }
    return rc;
}

/* Delete the messages of a deleted channel in bounded commits, then its tombstone. */
static int purge_channel(streamlog_store *st, uint64_t id)
{
    struct purge_step p = {id, 0};
    int rc;
    while (!(rc = sl_store_write(st, 0, purge_step_work, &p)) && !p.done)
        ;
    return rc;
}

struct delete_write {
    const char *name;
    size_t nlen;
    uint64_t id;
};

static int delete_work(sl_txn *t, void *ctx)
{
    struct delete_write *d = ctx;
    sl_chan_rec rec;
    uint64_t count = 0;
    uint8_t tomb_key[8];
    int rc = sl_chan_load(t, d->name, d->nlen, &rec);
    if (rc == STREAMLOG_ENOTFOUND)
        return sl_fail(STREAMLOG_ENOTFOUND, "channel '%s' does not exist", d->name);
    d->id = rec.id;
    sl_be64_put(tomb_key, rec.id);
    if (!rc)
        rc = sl_del(t, SL_DB_CHANNELS, d->name, d->nlen);
    if (!rc)
        rc = sl_put(t, SL_DB_TOMBSTONES, tomb_key, sizeof tomb_key, d->name, d->nlen);
    if (!rc)
        rc = sl_subs_purge_channel(t, rec.id);
    if (!rc)
        rc = sl_meta_get(t, SL_META_CHANNELS, &count);
    if (!rc)
        rc = sl_meta_put(t, SL_META_CHANNELS, count ? count - 1 : 0);
    return rc;
}

int sl_channel_delete(streamlog_store *st, const char *name)
{
    struct delete_write d = {name, strlen(name), 0};
    int rc = sl_store_write(st, 0, delete_work, &d);
    if (rc)
        return rc;
    /* The channel is gone once that commit is done. Purging its messages
     * may fail for lack of space (copy-on-write needs pages even to delete)
     * or be interrupted; the maintenance thread and the next open finish it,
     * so only a failure that latched the store is reported. */
    rc = purge_channel(st, d.id);
    return rc == STREAMLOG_EIO ? rc : STREAMLOG_OK;
}

int sl_channels_finish_deletes(streamlog_store *st)
{
    for (;;) {
        sl_txn t;
        sl_cursor *c;
        int rc = sl_read_begin(st->env, &t);
        if (rc)
            return rc;
        if ((rc = sl_cursor_open(&t, SL_DB_TOMBSTONES, &c))) {
            sl_read_end(&t);
            return rc;
        }
        sl_val k = {NULL, 0};
        uint64_t id = 0;
        rc = sl_cursor_get(c, SL_FIRST, &k, NULL);
        if (rc == STREAMLOG_OK && k.len == 8)
            id = sl_be64_get(k.data);
        sl_cursor_close(c);
        sl_read_end(&t);
        if (rc == STREAMLOG_ENOTFOUND)
            return STREAMLOG_OK;
        if (rc)
            return rc;
        if (id == 0)
            return sl_fail(STREAMLOG_ECORRUPT, "malformed deleted-channel record");
        if ((rc = purge_channel(st, id)))
            return rc;
    }
}

int sl_channel_stats(streamlog_channel *ch, streamlog_channel_stats_v2 *out)
{
    streamlog_store *st = ch->st;
    sl_txn t;
    sl_chan_rec rec;
    sl_limits lim;
    uint64_t subs = 0;
    for (int attempt = 0;; attempt++) {
        int rc = sl_read_begin(st->env, &t);
        if (rc)
            return rc;
        rc = sl_chan_load_handle(&t, ch, &rec);
        if (!rc)
            rc = sl_members_count(&t, rec.id, 0, &subs);
        int stale = 0;
        if (!rc && attempt == 0) {
            sl_chan_limits(st, &rec, &lim);
            stale = sl_retention_expired(&t, &rec, &lim, sl_now_ns());
        }
        sl_read_end(&t);
        if (rc)
            return rc;
        if (!stale || sl_store_writable(st) != STREAMLOG_OK)
            break;
        /* reclaim expired messages first so the figures count only readable ones */
        if ((rc = sl_retention_run(st, ch)))
            return rc;
    }
    out->first_seq = rec.first_seq;
    out->last_seq = rec.last_seq;
    out->msgs = rec.msgs;
    out->bytes = rec.bytes;
    out->subs = subs;
    return STREAMLOG_OK;
}

int sl_channel_list_next(streamlog_store *st, const char *after, char *buf, size_t cap)
{
    sl_txn t;
    sl_cursor *c;
    int rc = sl_read_begin(st->env, &t);
    if (rc)
        return rc;
    if ((rc = sl_cursor_open(&t, SL_DB_CHANNELS, &c))) {
        sl_read_end(&t);
        return rc;
    }
    size_t alen = after ? strlen(after) : 0;
    sl_val k = {after, alen}, v;
    rc = sl_cursor_get(c, alen ? SL_SEEK_GE : SL_FIRST, &k, &v);
    /* skip `after` itself */
    if (!rc && alen && k.len == alen && memcmp(k.data, after, alen) == 0)
        rc = sl_cursor_get(c, SL_NEXT, &k, &v);
    if (!rc) {
        if (k.len >= cap) {
            rc = sl_fail(STREAMLOG_ECORRUPT, "channel name of %zu bytes in the store", k.len);
        } else {
            memcpy(buf, k.data, k.len);
            buf[k.len] = '\0';
        }
    } else if (rc == STREAMLOG_ENOTFOUND) {
        rc = sl_fail(STREAMLOG_ENOTFOUND, "no channel after '%s'", after ? after : "");
    }
    sl_cursor_close(c);
    sl_read_end(&t);
    return rc;
}
