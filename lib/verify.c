/* A full check of a store, in one read snapshot: every channel record
 * decodes; every message record decodes and passes its checksum, belongs to
 * a channel (or to one whose deletion is being finished) and lies inside its
 * channel's range; each channel's message count and bytes equal what its
 * record says; the subscription state (groups, pending messages, members)
 * decodes and hangs together with the channels. Damage to LMDB's own pages
 * that LMDB still accepts as pages is only found where it breaks a record;
 * LMDB may also report it as MDB_CORRUPTED or MDB_PAGE_NOTFOUND, which ends
 * the walk with ECORRUPT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "encoding.h"
#include "errors.h"
#include "groups.h"
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
    if (len) /* v is NULL when there is none */
        qsort(v, len, sizeof *v, by_id);
    *out = v;
    *n = len;
    return STREAMLOG_OK;
}

/* The channels of a store: those with a record, and those whose deletion
 * the maintenance thread is finishing (tombstoned), whose leftovers are not
 * damage. */
struct chan_set {
    const sl_txn *t;
    struct chan_tally *v;
    size_t n;
    uint64_t tomb_id; /* the last id found tombstoned, to ask once per channel */
};

static struct chan_tally *chan_find(const struct chan_set *cs, uint64_t id)
{
    struct chan_tally key = {.id = id};
    return cs->n ? bsearch(&key, cs->v, cs->n, sizeof *cs->v, by_id) : NULL; /* v is NULL when n is 0 */
}

static int being_deleted(struct chan_set *cs, uint64_t id)
{
    if (id == cs->tomb_id)
        return 1;
    uint8_t key[8];
    sl_val v;
    sl_be64_put(key, id);
    if (sl_get(cs->t, SL_DB_TOMBSTONES, key, sizeof key, &v) != STREAMLOG_OK)
        return 0;
    cs->tomb_id = id;
    return 1;
}

static int walk_messages(struct chan_set *cs, streamlog_verify_report *r)
{
    sl_cursor *c;
    int rc = sl_cursor_open(cs->t, SL_DB_MSGS, &c);
    if (rc)
        return rc;
    sl_val k = {NULL, 0}, val;
    for (rc = sl_cursor_get(c, SL_FIRST, &k, &val); rc == STREAMLOG_OK; rc = sl_cursor_get(c, SL_NEXT, &k, &val)) {
        r->messages++;
        sl_msg_rec m;
        if (sl_msg_decode(&k, &val, &m)) {
            r->damaged_messages++;
            continue;
        }
        struct chan_tally *ch = chan_find(cs, m.chan_id);
        if (!ch) {
            if (!being_deleted(cs, m.chan_id))
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

struct group_tally {
    uint64_t id, chan_id, next_seq;
    const struct chan_tally *ch; /* NULL: a channel being deleted, or none */
};

static int group_by_id(const void *a, const void *b)
{
    uint64_t x = ((const struct group_tally *)a)->id, y = ((const struct group_tally *)b)->id;
    return x < y ? -1 : x > y;
}

static const struct group_tally *group_find(const struct group_tally *v, size_t n, uint64_t id)
{
    struct group_tally key = {.id = id};
    return n ? bsearch(&key, v, n, sizeof *v, group_by_id) : NULL; /* v is NULL when n is 0 */
}

/* Load every group record that decodes, sorted by id, checking each against
 * its channel. A group of no channel is kept (and counted once): its pending
 * records and members are then not counted again as orphans. */
static int load_groups(struct chan_set *cs, struct group_tally **out, size_t *n, streamlog_verify_report *r)
{
    sl_cursor *c;
    int rc = sl_cursor_open(cs->t, SL_DB_GROUPS, &c);
    if (rc)
        return rc;
    struct group_tally *v = NULL;
    size_t len = 0, cap = 0;
    sl_val k = {NULL, 0}, val;
    for (rc = sl_cursor_get(c, SL_FIRST, &k, &val); rc == STREAMLOG_OK; rc = sl_cursor_get(c, SL_NEXT, &k, &val)) {
        r->groups++;
        /* key: channel id, kind, a name of at least one byte (sl_group_key) */
        const uint8_t *kp = k.data;
        int kind_ok = k.len >= 10 && k.len <= SL_GROUP_KEY_MAX &&
                      (kp[8] == SL_GROUP_DURABLE || kp[8] == SL_GROUP_QUEUE || kp[8] == SL_GROUP_DURABLE_QUEUE);
        sl_group_rec g;
        if (!kind_ok || sl_group_decode(&val, &g)) {
            r->damaged_groups++;
            continue;
        }
        uint64_t chan_id = sl_be64_get(kp);
        const struct chan_tally *ch = chan_find(cs, chan_id);
        if (!ch && !being_deleted(cs, chan_id))
            r->orphan_groups++;
        /* a group hands out at most up to the channel's end: next_seq <= last_seq + 1 */
        if (ch && g.next_seq > ch->rec.last_seq + 1)
            r->groups_beyond_end++;
        if (len == cap) {
            cap = cap ? 2 * cap : 16;
            struct group_tally *nv = sl_realloc(v, cap * sizeof *v);
            if (!nv) {
                sl_free(v);
                sl_cursor_close(c);
                return sl_fail(STREAMLOG_ENOMEM, "out of memory verifying the store");
            }
            v = nv;
        }
        v[len++] = (struct group_tally){.id = g.id, .chan_id = chan_id, .next_seq = g.next_seq, .ch = ch};
    }
    sl_cursor_close(c);
    if (rc != STREAMLOG_ENOTFOUND) {
        sl_free(v);
        return rc;
    }
    if (len) /* v is NULL when there is none */
        qsort(v, len, sizeof *v, group_by_id);
    *out = v;
    *n = len;
    return STREAMLOG_OK;
}

static int walk_pending(const sl_txn *t, const struct group_tally *groups, size_t ngroups,
                        streamlog_verify_report *r)
{
    sl_cursor *c;
    int rc = sl_cursor_open(t, SL_DB_PENDING, &c);
    if (rc)
        return rc;
    sl_val k = {NULL, 0}, val;
    for (rc = sl_cursor_get(c, SL_FIRST, &k, &val); rc == STREAMLOG_OK; rc = sl_cursor_get(c, SL_NEXT, &k, &val)) {
        r->pending++;
        sl_pending_rec p;
        if (k.len != 16 || sl_pending_decode(&val, &p)) { /* key: group id, seq */
            r->damaged_pending++;
            continue;
        }
        uint64_t seq = sl_be64_get((const uint8_t *)k.data + 8);
        const struct group_tally *g = group_find(groups, ngroups, sl_be64_get(k.data));
        if (!g) {
            r->orphan_pending++; /* removing a group removes its pending records in the same commit */
            continue;
        }
        /* A pending record is written only for a sequence its group has
         * handed out, so below the group's position and the channel's end.
         * One below the channel's first sequence is legitimate: retention or
         * a purge removed the message while it was in flight, and subs.c
         * drops the entry when it comes to redeliver it (the read finds no
         * message) or when it is acked. */
        if (g->ch && (seq == 0 || seq > g->ch->rec.last_seq || seq >= g->next_seq))
            r->out_of_range_pending++;
    }
    sl_cursor_close(c);
    return rc == STREAMLOG_ENOTFOUND ? STREAMLOG_OK : rc;
}

static int walk_members(struct chan_set *cs, const struct group_tally *groups, size_t ngroups,
                        streamlog_verify_report *r)
{
    sl_cursor *c;
    int rc = sl_cursor_open(cs->t, SL_DB_MEMBERS, &c);
    if (rc)
        return rc;
    sl_val k = {NULL, 0}, val;
    for (rc = sl_cursor_get(c, SL_FIRST, &k, &val); rc == STREAMLOG_OK; rc = sl_cursor_get(c, SL_NEXT, &k, &val)) {
        r->members++;
        sl_member_rec m;
        if (k.len != 16 || sl_member_decode(&val, &m)) { /* key: channel id, member id */
            r->damaged_members++;
            continue;
        }
        uint64_t chan_id = sl_be64_get(k.data);
        if (!chan_find(cs, chan_id)) {
            if (!being_deleted(cs, chan_id))
                r->orphan_members++;
            continue;
        }
        if (!m.group_id)
            continue; /* a plain subscription */
        const struct group_tally *g = group_find(groups, ngroups, m.group_id);
        /* A group is removed when its last live member leaves (or by
         * streamlog_*_delete, which refuses while any is live); members of
         * dead processes stay until a later subscribe reaps them, so only a
         * live member of no group is damage. */
        if (g ? g->chan_id != chan_id : sl_member_alive(&m))
            r->orphan_members++;
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
    struct chan_set cs = {.t = &t};
    struct group_tally *groups = NULL;
    size_t ngroups = 0;
    rc = load_channels(&t, &cs.v, &cs.n, &r);
    if (!rc)
        rc = walk_messages(&cs, &r);
    if (!rc)
        rc = load_groups(&cs, &groups, &ngroups, &r);
    if (!rc)
        rc = walk_pending(&t, groups, ngroups, &r);
    if (!rc)
        rc = walk_members(&cs, groups, ngroups, &r);
    sl_read_end(&t);
    for (size_t i = 0; i < cs.n && !rc; i++)
        if (cs.v[i].msgs != cs.v[i].rec.msgs || cs.v[i].bytes != cs.v[i].rec.bytes)
            r.counter_mismatches++;
    sl_free(cs.v);
    sl_free(groups);
    if (rc)
        return rc;
    /* the caller's struct may be older (smaller) than ours: fill what it has */
    uint32_t size = out->size < sizeof r ? out->size : (uint32_t)sizeof r;
    r.size = size;
    memcpy(out, &r, size);
    /* name only the kinds found: all of them would not fit an error message */
    const struct {
        uint64_t n;
        const char *what;
    } kinds[] = {
        {r.damaged_channels, "damaged channel record(s)"},
        {r.damaged_messages, "message record(s) failing their checks"},
        {r.orphan_messages, "orphaned message(s)"},
        {r.out_of_range_messages, "out-of-range message(s)"},
        {r.counter_mismatches, "channel(s) whose counters disagree"},
        {r.damaged_groups, "damaged group record(s)"},
        {r.orphan_groups, "orphaned group(s)"},
        {r.groups_beyond_end, "group(s) past their channel's end"},
        {r.damaged_pending, "damaged pending record(s)"},
        {r.orphan_pending, "orphaned pending record(s)"},
        {r.out_of_range_pending, "out-of-range pending record(s)"},
        {r.damaged_members, "damaged member record(s)"},
        {r.orphan_members, "orphaned member(s)"},
    };
    char found[STREAMLOG_ERRMSG_CAP] = "";
    size_t used = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds && used < sizeof found; i++)
        if (kinds[i].n) {
            int w = snprintf(found + used, sizeof found - used, "%s%llu %s", used ? ", " : "",
                             (unsigned long long)kinds[i].n, kinds[i].what);
            used = w < 0 ? sizeof found : used + (size_t)w;
        }
    if (found[0])
        return sl_fail(STREAMLOG_ECORRUPT, "the store is damaged: %s", found);
    return STREAMLOG_OK;
}
