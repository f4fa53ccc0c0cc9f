/*
 * engine_lmdb.c - the benchmark's workloads done by hand on raw LMDB: the
 * baseline libstreamlog is measured against.
 *
 * It does the least a log on LMDB must do, the way the library would lay it
 * out: one environment per directory, one named database "msgs", 16-byte
 * big-endian keys (channel id, sequence), values of an 8-byte big-endian
 * commit time followed by the payload, MDB_APPEND for every put (keys always
 * arrive in order) and MDB_RESERVE so the payload is copied once. No-sync
 * stores use MDB_NOSYNC; durable ones LMDB's default full sync per commit.
 * A single writer keeps the next sequence in memory; concurrent writers read
 * the channel's last key inside their write transaction.
 */
#include "bench.h"

#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#define TS_SIZE  8
#define KEY_SIZE 16

typedef struct lm_db {
    MDB_env    *env;
    MDB_dbi     dbi;
    uint64_t    next_seq;
    MDB_txn    *rtxn;   /* read transaction kept reset between seeks */
    MDB_cursor *rcur;
} lm_db;

static void check(int rc, const char *what)
{
    if (rc != MDB_SUCCESS)
        die("lmdb: %s: %s", what, mdb_strerror(rc));
}

static void make_key(unsigned char key[KEY_SIZE], uint64_t chan, uint64_t seq)
{
    put_be64(key, chan);
    put_be64(key + 8, seq);
}

/* Last sequence of the channel, 0 when it is empty. */
static uint64_t last_seq(MDB_cursor *cur)
{
    unsigned char kb[KEY_SIZE];
    MDB_val k = { KEY_SIZE, kb }, v;
    int rc;

    make_key(kb, CHANNEL_ID + 1, 0);
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == MDB_SUCCESS)
        rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    else if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    if (rc == MDB_NOTFOUND)
        return 0;
    check(rc, "cursor_get last");
    if (k.mv_size != KEY_SIZE || get_be64(k.mv_data) != CHANNEL_ID)
        return 0;
    return get_be64((const unsigned char *)k.mv_data + 8);
}

static void *lm_open(const char *dir, int durable)
{
    lm_db *db = calloc(1, sizeof *db);
    MDB_txn *txn;
    MDB_cursor *cur;

    if (!db)
        die("out of memory");
    check(mdb_env_create(&db->env), "env_create");
    check(mdb_env_set_mapsize(db->env, (size_t)1 << 36), "env_set_mapsize");
    check(mdb_env_set_maxdbs(db->env, 4), "env_set_maxdbs");
    check(mdb_env_open(db->env, dir, MDB_NOTLS | (durable == DURABLE_FULL ? 0 : durable == DURABLE_LAZY ? MDB_NOMETASYNC : MDB_NOSYNC), 0644), "env_open");
    check(mdb_txn_begin(db->env, NULL, 0, &txn), "txn_begin");
    check(mdb_dbi_open(txn, "msgs", MDB_CREATE, &db->dbi), "dbi_open");
    check(mdb_cursor_open(txn, db->dbi, &cur), "cursor_open");
    db->next_seq = last_seq(cur) + 1;
    mdb_cursor_close(cur);
    check(mdb_txn_commit(txn), "txn_commit");

    check(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &db->rtxn), "txn_begin read");
    check(mdb_cursor_open(db->rtxn, db->dbi, &db->rcur), "cursor_open read");
    mdb_txn_reset(db->rtxn);
    return db;
}

static void lm_close(void *p)
{
    lm_db *db = p;
    mdb_cursor_close(db->rcur);
    mdb_txn_abort(db->rtxn);
    check(mdb_env_sync(db->env, 1), "env_sync");
    mdb_env_close(db->env);
    free(db);
}

/* Put one message with MDB_APPEND, copying the payload straight into the page. */
static void put_msg(MDB_cursor *cur, uint64_t seq, int64_t ts, const void *data, size_t len)
{
    unsigned char kb[KEY_SIZE];
    MDB_val k = { KEY_SIZE, kb }, v = { TS_SIZE + len, NULL };

    make_key(kb, CHANNEL_ID, seq);
    check(mdb_cursor_put(cur, &k, &v, MDB_APPEND | MDB_RESERVE), "cursor_put");
    put_be64(v.mv_data, (uint64_t)ts);
    if (len)
        memcpy((unsigned char *)v.mv_data + TS_SIZE, data, len);
}

static void lm_append_batch(void *p, const void *const *data, const size_t *lens, size_t n)
{
    lm_db *db = p;
    MDB_txn *txn;
    MDB_cursor *cur;
    int64_t ts = wall_ns();

    check(mdb_txn_begin(db->env, NULL, 0, &txn), "txn_begin");
    check(mdb_cursor_open(txn, db->dbi, &cur), "cursor_open");
    for (size_t i = 0; i < n; i++)
        put_msg(cur, db->next_seq + i, ts, data[i], lens[i]);
    mdb_cursor_close(cur);
    check(mdb_txn_commit(txn), "txn_commit");
    db->next_seq += n;
}

static void lm_append(void *p, const void *data, size_t len)
{
    lm_append_batch(p, &data, &len, 1);
}

/* Concurrent writers share the environment; LMDB serialises their write
 * transactions, and each reads the channel's last sequence inside its own. */
static void *lm_writer_open(void *p)
{
    return p;
}

static void lm_writer_append(void *p, const void *data, size_t len)
{
    lm_db *db = p;
    MDB_txn *txn;
    MDB_cursor *cur;

    check(mdb_txn_begin(db->env, NULL, 0, &txn), "txn_begin");
    check(mdb_cursor_open(txn, db->dbi, &cur), "cursor_open");
    put_msg(cur, last_seq(cur) + 1, wall_ns(), data, len);
    mdb_cursor_close(cur);
    check(mdb_txn_commit(txn), "txn_commit");
}

static void lm_writer_close(void *w)
{
    (void)w;
}

static uint64_t lm_scan(void *p, uint64_t *sum)
{
    lm_db *db = p;
    MDB_txn *txn;
    MDB_cursor *cur;
    unsigned char kb[KEY_SIZE];
    MDB_val k = { KEY_SIZE, kb }, v;
    uint64_t count = 0;
    int rc;

    check(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), "txn_begin read");
    check(mdb_cursor_open(txn, db->dbi, &cur), "cursor_open");
    make_key(kb, CHANNEL_ID, 0);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const unsigned char *key = k.mv_data, *d = v.mv_data;
        size_t len = v.mv_size - TS_SIZE;
        if (get_be64(key) != CHANNEL_ID)
            break;
        *sum += get_be64(key + 8) + len + (len ? d[TS_SIZE] + d[v.mv_size - 1] : 0);
        count++;
    }
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
        check(rc, "cursor_get next");
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return count;
}

/* Commit time of message seq, or -1 if it is missing. */
static int64_t time_of(MDB_cursor *cur, uint64_t seq)
{
    unsigned char kb[KEY_SIZE];
    MDB_val k = { KEY_SIZE, kb }, v;
    int rc;

    make_key(kb, CHANNEL_ID, seq);
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET);
    if (rc == MDB_NOTFOUND)
        return -1;
    check(rc, "cursor_get set");
    return (int64_t)get_be64(v.mv_data);
}

static uint64_t first_seq(MDB_cursor *cur)
{
    unsigned char kb[KEY_SIZE];
    MDB_val k = { KEY_SIZE, kb }, v;
    int rc;

    make_key(kb, CHANNEL_ID, 0);
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND || get_be64(k.mv_data) != CHANNEL_ID)
        return 0;
    check(rc, "cursor_get first");
    return get_be64((const unsigned char *)k.mv_data + 8);
}

static void lm_time_range(void *p, int64_t *first, int64_t *last)
{
    lm_db *db = p;
    check(mdb_txn_renew(db->rtxn), "txn_renew");
    check(mdb_cursor_renew(db->rtxn, db->rcur), "cursor_renew");
    *first = time_of(db->rcur, first_seq(db->rcur));
    *last = time_of(db->rcur, last_seq(db->rcur));
    mdb_txn_reset(db->rtxn);
}

/* What an iterator opened at a time must do: a read snapshot, the channel's
 * bounds, a binary search over sequences by commit time (times never
 * decrease), then reading the message found. */
static void *lm_seek_open(void *p, int64_t t, int64_t *found)
{
    lm_db *db = p;
    uint64_t lo, hi, last;
    unsigned char kb[KEY_SIZE];
    MDB_val k = { KEY_SIZE, kb }, v;
    volatile unsigned char touch;

    check(mdb_txn_renew(db->rtxn), "txn_renew");
    check(mdb_cursor_renew(db->rtxn, db->rcur), "cursor_renew");
    lo = first_seq(db->rcur);
    last = last_seq(db->rcur);
    hi = last + 1;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (time_of(db->rcur, mid) < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = -1;
    if (lo >= 1 && lo <= last) {
        make_key(kb, CHANNEL_ID, lo);
        check(mdb_cursor_get(db->rcur, &k, &v, MDB_SET_KEY), "cursor_get found");
        touch = ((const unsigned char *)v.mv_data)[v.mv_size - 1];
        (void)touch;
        *found = (int64_t)get_be64(v.mv_data);
    }
    return db->rtxn;
}

static void lm_seek_close(void *p, void *s)
{
    (void)p;
    mdb_txn_reset(s);
}

const engine engine_lmdb = {
    .name = "raw LMDB",
    .open = lm_open,
    .close = lm_close,
    .append = lm_append,
    .append_batch = lm_append_batch,
    .writer_open = lm_writer_open,
    .writer_append = lm_writer_append,
    .writer_close = lm_writer_close,
    .scan = lm_scan,
    .time_range = lm_time_range,
    .seek_open = lm_seek_open,
    .seek_close = lm_seek_close,
};
