/* Persisted subscription state (see groups.h). */
#include <stdio.h>
#include <string.h>

#include "encoding.h"
#include "errors.h"
#include "groups.h"
#include "process.h"

#define GROUP_REC_LEN (4 + 8 * 2)
#define PENDING_REC_LEN (4 + 8 + 4 + 8)
#define MEMBER_REC_LEN_V1 (4 + 8 + 4 + 8)       /* before the queue delivery rule */
#define MEMBER_REC_LEN (MEMBER_REC_LEN_V1 + 4 + 4 + 8)
#define REC_FORMAT 1

static void be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t be32_get(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void hdr_put(uint8_t *p)
{
    p[0] = REC_FORMAT;
    p[1] = p[2] = p[3] = 0;
}

static int hdr_ok(const sl_val *v, size_t len)
{
    const uint8_t *p = v->data;
    return v->len == len && p[0] == REC_FORMAT && !p[1] && !p[2] && !p[3];
}

/* ---- groups ---- */

size_t sl_group_key(uint8_t *buf, uint64_t chan_id, char kind, const char *name, const char *durable)
{
    size_t n = strlen(name);
    sl_be64_put(buf, chan_id);
    buf[8] = (uint8_t)kind;
    memcpy(buf + 9, name, n);
    size_t len = 9 + n;
    if (durable) {
        size_t d = strlen(durable);
        buf[len++] = ':';
        memcpy(buf + len, durable, d);
        len += d;
    }
    return len;
}

int sl_group_decode(const sl_val *v, sl_group_rec *out)
{
    if (!hdr_ok(v, GROUP_REC_LEN))
        return sl_fail(STREAMLOG_ECORRUPT, "malformed subscription group record");
    const uint8_t *p = v->data;
    out->id = sl_be64_get(p + 4);
    out->next_seq = sl_be64_get(p + 12);
    return STREAMLOG_OK;
}

int sl_group_load(const sl_txn *t, const uint8_t *key, size_t klen, sl_group_rec *out)
{
    sl_val v;
    int rc = sl_get(t, SL_DB_GROUPS, key, klen, &v);
    return rc ? rc : sl_group_decode(&v, out);
}

int sl_group_save(sl_txn *t, const uint8_t *key, size_t klen, const sl_group_rec *rec)
{
    uint8_t b[GROUP_REC_LEN];
    hdr_put(b);
    sl_be64_put(b + 4, rec->id);
    sl_be64_put(b + 12, rec->next_seq);
    return sl_put(t, SL_DB_GROUPS, key, klen, b, sizeof b);
}

/* Delete keys starting with an 8-byte big-endian prefix. */
static int delete_prefixed(sl_txn *t, int db, uint64_t prefix)
{
    sl_cursor *c;
    int rc = sl_cursor_open(t, db, &c);
    if (rc)
        return rc;
    uint8_t kbuf[8];
    for (;;) {
        sl_be64_put(kbuf, prefix);
        sl_val k = {kbuf, sizeof kbuf};
        rc = sl_cursor_get(c, SL_SEEK_GE, &k, NULL);
        if (rc == STREAMLOG_ENOTFOUND || (!rc && (k.len < 8 || sl_be64_get(k.data) != prefix))) {
            rc = STREAMLOG_OK;
            break;
        }
        if (rc || (rc = sl_cursor_del(c)))
            break;
    }
    sl_cursor_close(c);
    return rc;
}

int sl_group_remove(sl_txn *t, const uint8_t *key, size_t klen, uint64_t group_id)
{
    int rc = sl_del(t, SL_DB_GROUPS, key, klen);
    if (rc && rc != STREAMLOG_ENOTFOUND)
        return rc;
    return delete_prefixed(t, SL_DB_PENDING, group_id);
}

/* ---- pending ---- */

static void pending_key(uint8_t k[16], uint64_t group_id, uint64_t seq)
{
    sl_be64_put(k, group_id);
    sl_be64_put(k + 8, seq);
}

int sl_pending_decode(const sl_val *v, sl_pending_rec *out)
{
    if (!hdr_ok(v, PENDING_REC_LEN))
        return sl_fail(STREAMLOG_ECORRUPT, "malformed pending-message record");
    const uint8_t *p = v->data;
    out->owner = sl_be64_get(p + 4);
    out->deliveries = be32_get(p + 12);
    out->deadline = (int64_t)sl_be64_get(p + 16);
    return STREAMLOG_OK;
}

int sl_pending_load(const sl_txn *t, uint64_t group_id, uint64_t seq, sl_pending_rec *out)
{
    uint8_t k[16];
    sl_val v;
    pending_key(k, group_id, seq);
    int rc = sl_get(t, SL_DB_PENDING, k, sizeof k, &v);
    return rc ? rc : sl_pending_decode(&v, out);
}

int sl_pending_save(sl_txn *t, uint64_t group_id, uint64_t seq, const sl_pending_rec *rec)
{
    uint8_t k[16], b[PENDING_REC_LEN];
    pending_key(k, group_id, seq);
    hdr_put(b);
    sl_be64_put(b + 4, rec->owner);
    be32_put(b + 12, rec->deliveries);
    sl_be64_put(b + 16, (uint64_t)rec->deadline);
    return sl_put(t, SL_DB_PENDING, k, sizeof k, b, sizeof b);
}

int sl_pending_del(sl_txn *t, uint64_t group_id, uint64_t seq)
{
    uint8_t k[16];
    pending_key(k, group_id, seq);
    return sl_del(t, SL_DB_PENDING, k, sizeof k);
}

static int pending_at(int rc, const sl_val *k, const sl_val *v, uint64_t group_id, uint64_t *seq,
                      sl_pending_rec *out)
{
    if (rc)
        return rc;
    if (k->len != 16 || sl_be64_get(k->data) != group_id)
        return STREAMLOG_ENOTFOUND;
    *seq = sl_be64_get((const uint8_t *)k->data + 8);
    return sl_pending_decode(v, out);
}

int sl_pending_seek(sl_cursor *c, uint64_t group_id, uint64_t from, uint64_t *seq, sl_pending_rec *out)
{
    uint8_t kb[16];
    pending_key(kb, group_id, from);
    sl_val k = {kb, sizeof kb}, v;
    int rc = sl_cursor_get(c, SL_SEEK_GE, &k, &v);
    return pending_at(rc, &k, &v, group_id, seq, out);
}

int sl_pending_next(sl_cursor *c, uint64_t group_id, uint64_t *seq, sl_pending_rec *out)
{
    sl_val k = {NULL, 0}, v;
    int rc = sl_cursor_get(c, SL_NEXT, &k, &v);
    return pending_at(rc, &k, &v, group_id, seq, out);
}

/* ---- members ---- */

static void member_key(uint8_t k[16], uint64_t chan_id, uint64_t member_id)
{
    sl_be64_put(k, chan_id);
    sl_be64_put(k + 8, member_id);
}

int sl_member_decode(const sl_val *v, sl_member_rec *out)
{
    /* a member written by an older library (still running in another process) never waits */
    int v1 = hdr_ok(v, MEMBER_REC_LEN_V1);
    if (!v1 && !hdr_ok(v, MEMBER_REC_LEN))
        return sl_fail(STREAMLOG_ECORRUPT, "malformed subscription member record");
    const uint8_t *p = v->data;
    out->group_id = sl_be64_get(p + 4);
    out->pid = be32_get(p + 12);
    out->start_ticks = sl_be64_get(p + 16);
    out->waiting = v1 ? 0 : be32_get(p + 24);
    out->unacked = v1 ? 0 : be32_get(p + 28);
    out->last_claim = v1 ? 0 : sl_be64_get(p + 32);
    return STREAMLOG_OK;
}

int sl_member_load(const sl_txn *t, uint64_t chan_id, uint64_t member_id, sl_member_rec *out)
{
    uint8_t k[16];
    sl_val v;
    member_key(k, chan_id, member_id);
    int rc = sl_get(t, SL_DB_MEMBERS, k, sizeof k, &v);
    return rc ? rc : sl_member_decode(&v, out);
}

int sl_member_save(sl_txn *t, uint64_t chan_id, uint64_t member_id, const sl_member_rec *rec)
{
    uint8_t k[16], b[MEMBER_REC_LEN];
    member_key(k, chan_id, member_id);
    hdr_put(b);
    sl_be64_put(b + 4, rec->group_id);
    be32_put(b + 12, rec->pid);
    sl_be64_put(b + 16, rec->start_ticks);
    be32_put(b + 24, rec->waiting);
    be32_put(b + 28, rec->unacked);
    sl_be64_put(b + 32, rec->last_claim);
    return sl_put(t, SL_DB_MEMBERS, k, sizeof k, b, sizeof b);
}

int sl_member_del(sl_txn *t, uint64_t chan_id, uint64_t member_id)
{
    uint8_t k[16];
    member_key(k, chan_id, member_id);
    int rc = sl_del(t, SL_DB_MEMBERS, k, sizeof k);
    return rc == STREAMLOG_ENOTFOUND ? STREAMLOG_OK : rc;
}

/* Walk a channel's members; fn returns non-zero to stop with that code. */
typedef int (*member_fn)(void *ctx, uint64_t member_id, const sl_member_rec *m);

/* Visit the members with ids in [from, to), at most `max` of them. */
static int members_walk_range(const sl_txn *t, uint64_t chan_id, uint64_t from, uint64_t to, uint64_t max,
                              member_fn fn, void *ctx)
{
    sl_cursor *c;
    int rc = sl_cursor_open(t, SL_DB_MEMBERS, &c);
    if (rc)
        return rc;
    uint8_t kb[16];
    member_key(kb, chan_id, from);
    sl_val k = {kb, sizeof kb}, v;
    uint64_t seen = 0;
    for (rc = sl_cursor_get(c, SL_SEEK_GE, &k, &v); rc == STREAMLOG_OK && seen < max;
         rc = sl_cursor_get(c, SL_NEXT, &k, &v), seen++) {
        if (k.len != 16 || sl_be64_get(k.data) != chan_id || sl_be64_get((const uint8_t *)k.data + 8) >= to)
            break;
        sl_member_rec m;
        if ((rc = sl_member_decode(&v, &m)) || (rc = fn(ctx, sl_be64_get((const uint8_t *)k.data + 8), &m)))
            break;
    }
    sl_cursor_close(c);
    return rc == STREAMLOG_ENOTFOUND ? STREAMLOG_OK : rc;
}

static int members_walk(const sl_txn *t, uint64_t chan_id, member_fn fn, void *ctx)
{
    return members_walk_range(t, chan_id, 0, UINT64_MAX, UINT64_MAX, fn, ctx);
}

/* Liveness of the processes met in one walk. A walk over thousands of
 * members asks about few processes: members of this process are alive
 * without a look at /proc, and each other process is looked at once. */
#define LIVENESS_CACHE 16
struct liveness {
    uint32_t own_pid;
    uint64_t own_start;
    int n;
    struct { uint32_t pid; uint64_t start; int alive; } seen[LIVENESS_CACHE];
};

static void liveness_init(struct liveness *l)
{
    l->n = 0;
    sl_process_identity(&l->own_pid, &l->own_start);
}

static int liveness_of(struct liveness *l, const sl_member_rec *m)
{
    if (m->pid == l->own_pid && m->start_ticks == l->own_start)
        return 1;
    for (int i = 0; i < l->n; i++)
        if (l->seen[i].pid == m->pid && l->seen[i].start == m->start_ticks)
            return l->seen[i].alive;
    int alive = sl_member_alive(m);
    if (l->n < LIVENESS_CACHE) {
        l->seen[l->n].pid = m->pid;
        l->seen[l->n].start = m->start_ticks;
        l->seen[l->n++].alive = alive;
    }
    return alive;
}

#define REAP_MAX 64
#define REAP_WINDOW REAP_MAX
struct census_ctx {
    struct liveness live;
    uint64_t group_id, n, group_n;
    int reap; /* collect dead members */
    int ndead;
    uint64_t dead_ids[REAP_MAX], dead_groups[REAP_MAX];
};

static int census_one(void *ctx, uint64_t member_id, const sl_member_rec *m)
{
    struct census_ctx *cc = ctx;
    if (liveness_of(&cc->live, m)) {
        cc->n++;
        cc->group_n += cc->group_id && m->group_id == cc->group_id;
    } else if (cc->reap && cc->ndead < REAP_MAX) {
        cc->dead_ids[cc->ndead] = member_id;
        cc->dead_groups[cc->ndead++] = m->group_id;
    }
    return 0;
}

int sl_members_count(const sl_txn *t, uint64_t chan_id, uint64_t group_id, uint64_t *out)
{
    struct census_ctx cc = {.group_id = group_id};
    liveness_init(&cc.live);
    int rc = members_walk(t, chan_id, census_one, &cc);
    if (!rc)
        *out = group_id ? cc.group_n : cc.n;
    return rc;
}

struct turn_ctx {
    struct liveness live;
    uint64_t self;
    const sl_member_rec *me;
    int turn, others_waiting;
};

/* Does member a (id ida) come before b (id idb) for the next new message? */
static int comes_before(const sl_member_rec *a, uint64_t ida, const sl_member_rec *b, uint64_t idb)
{
    if (a->unacked != b->unacked)
        return a->unacked < b->unacked;
    if (a->last_claim != b->last_claim)
        return a->last_claim < b->last_claim;
    return ida < idb;
}

static int turn_one(void *ctx, uint64_t member_id, const sl_member_rec *m)
{
    struct turn_ctx *tc = ctx;
    if (member_id == tc->self || m->group_id != tc->me->group_id || !m->waiting)
        return 0;
    /* liveness costs a look at /proc: asked only of members that would come first */
    if (comes_before(m, member_id, tc->me, tc->self)) {
        if (!liveness_of(&tc->live, m))
            return 0;
        tc->turn = 0;
    } else if (!tc->others_waiting && !liveness_of(&tc->live, m)) {
        return 0;
    }
    tc->others_waiting = 1;
    return 0;
}

int sl_queue_turn(const sl_txn *t, uint64_t chan_id, uint64_t member_id, const sl_member_rec *me, int *turn,
                  int *others_waiting)
{
    struct turn_ctx tc = {.self = member_id, .me = me, .turn = 1};
    liveness_init(&tc.live);
    int rc = members_walk(t, chan_id, turn_one, &tc);
    if (!rc) {
        *turn = tc.turn;
        *others_waiting = tc.others_waiting;
    }
    return rc;
}

int sl_pending_orphan(sl_txn *t, uint64_t group_id, uint64_t member_id)
{
    sl_cursor *c;
    int rc = sl_cursor_open(t, SL_DB_PENDING, &c);
    if (rc)
        return rc;
    uint64_t seq;
    sl_pending_rec p;
    /* collect first: writing while walking would move the cursor */
    uint64_t found[256];
    int n;
    uint64_t from = 0;
    do {
        n = 0;
        for (rc = sl_pending_seek(c, group_id, from, &seq, &p); rc == STREAMLOG_OK && n < 256;
             rc = sl_pending_next(c, group_id, &seq, &p)) {
            if (p.owner == member_id)
                found[n++] = seq;
            from = seq + 1;
        }
        if (rc && rc != STREAMLOG_ENOTFOUND)
            break;
        int more = rc == STREAMLOG_OK;
        rc = STREAMLOG_OK;
        for (int i = 0; i < n && !rc; i++) {
            if (!(rc = sl_pending_load(t, group_id, found[i], &p))) {
                p.owner = 0;
                p.deadline = 0;
                rc = sl_pending_save(t, group_id, found[i], &p);
            }
        }
        if (!more)
            break;
    } while (!rc);
    sl_cursor_close(c);
    return rc;
}

static int reap_found(sl_txn *t, uint64_t chan_id, const struct census_ctx *cc)
{
    int rc = STREAMLOG_OK;
    for (int i = 0; i < cc->ndead && !rc; i++) {
        if (cc->dead_groups[i])
            rc = sl_pending_orphan(t, cc->dead_groups[i], cc->dead_ids[i]);
        if (!rc)
            rc = sl_member_del(t, chan_id, cc->dead_ids[i]);
    }
    return rc;
}

int sl_members_reap_some(sl_txn *t, uint64_t chan_id, uint64_t from)
{
    struct census_ctx cc = {.reap = 1};
    liveness_init(&cc.live);
    int rc = members_walk_range(t, chan_id, from, UINT64_MAX, REAP_WINDOW, census_one, &cc);
    uint64_t seen = cc.n + (uint64_t)cc.ndead; /* ndead stops at REAP_MAX = REAP_WINDOW: exact here */
    if (!rc && seen < REAP_WINDOW && from > 0) /* wrap around to the channel's first members */
        rc = members_walk_range(t, chan_id, 0, from, REAP_WINDOW - seen, census_one, &cc);
    return rc ? rc : reap_found(t, chan_id, &cc);
}

int sl_members_reap(sl_txn *t, uint64_t chan_id, uint64_t group_id, uint64_t *live, uint64_t *group_live)
{
    struct census_ctx cc = {.group_id = group_id, .reap = 1};
    liveness_init(&cc.live);
    int rc = members_walk(t, chan_id, census_one, &cc);
    if (!rc)
        rc = reap_found(t, chan_id, &cc);
    if (!rc) {
        *live = cc.n;
        *group_live = cc.group_n;
    }
    return rc;
}

int sl_subs_purge_channel(sl_txn *t, uint64_t chan_id)
{
    /* groups of the channel: remove each with its pending records */
    sl_cursor *c;
    int rc = sl_cursor_open(t, SL_DB_GROUPS, &c);
    if (rc)
        return rc;
    for (;;) {
        uint8_t kb[8];
        sl_be64_put(kb, chan_id);
        sl_val k = {kb, sizeof kb}, v;
        rc = sl_cursor_get(c, SL_SEEK_GE, &k, &v);
        if (rc == STREAMLOG_ENOTFOUND || (!rc && (k.len < 9 || sl_be64_get(k.data) != chan_id))) {
            rc = STREAMLOG_OK;
            break;
        }
        if (rc)
            break;
        sl_group_rec g;
        uint8_t key[SL_GROUP_KEY_MAX];
        size_t klen = k.len <= sizeof key ? k.len : sizeof key;
        memcpy(key, k.data, klen);
        if ((rc = sl_group_load(t, key, klen, &g)) || (rc = sl_group_remove(t, key, klen, g.id)))
            break;
    }
    sl_cursor_close(c);
    return rc ? rc : delete_prefixed(t, SL_DB_MEMBERS, chan_id);
}

/* ---- processes ---- */

int sl_member_alive(const sl_member_rec *m)
{
    return sl_process_alive(m->pid, m->start_ticks);
}
