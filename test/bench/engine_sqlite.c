/*
 * engine_sqlite.c - the benchmark's workloads on SQLite in WAL mode, for
 * comparison with a general-purpose embedded database. Built only when
 * libsqlite3 is found.
 *
 * One table (chan, seq, ts, data) keyed by (chan, seq) WITHOUT ROWID,
 * prepared statements throughout, synchronous=OFF for no-sync stores and
 * FULL for durable ones. Otherwise SQLite's defaults, as a user would have.
 * A single writer keeps the next sequence in memory; concurrent writers,
 * one connection each, take MAX(seq)+1 inside their insert.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

typedef struct sq_conn {
    sqlite3      *db;
    sqlite3_stmt *insert, *insert_next, *begin, *commit;
} sq_conn;

typedef struct sq_db {
    sq_conn       c;
    char          path[4096];
    int           durable;
    uint64_t      next_seq;
    sqlite3_stmt *scan, *first, *last, *time_at, *msg_at;
} sq_db;

static void check(sqlite3 *db, int rc, int want, const char *what)
{
    if (rc != want)
        die("sqlite: %s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static void exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        die("sqlite: %s: %s", sql, err ? err : "?");
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    check(db, sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, sql);
    return st;
}

/* Run a statement that returns no rows, then reset it. */
static void step_done(sqlite3 *db, sqlite3_stmt *st, const char *what)
{
    check(db, sqlite3_step(st), SQLITE_DONE, what);
    sqlite3_reset(st);
}

static void conn_open(sq_conn *c, const char *path, int durable)
{
    check(NULL, sqlite3_open_v2(path, &c->db,
                                SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                NULL),
          SQLITE_OK, "open");
    sqlite3_busy_timeout(c->db, 60000);
    exec(c->db, "PRAGMA journal_mode=WAL");
    exec(c->db, durable == DURABLE_FULL   ? "PRAGMA synchronous=FULL"
                : durable == DURABLE_LAZY ? "PRAGMA synchronous=NORMAL"
                                          : "PRAGMA synchronous=OFF");
    exec(c->db, "CREATE TABLE IF NOT EXISTS msgs (chan INTEGER, seq INTEGER, ts INTEGER,"
                " data BLOB, PRIMARY KEY (chan, seq)) WITHOUT ROWID");
    c->insert = prepare(c->db, "INSERT INTO msgs (chan, seq, ts, data) VALUES (?1, ?2, ?3, ?4)");
    c->insert_next = prepare(c->db, "INSERT INTO msgs (chan, seq, ts, data)"
                                    " SELECT ?1, IFNULL(MAX(seq), 0) + 1, ?3, ?4"
                                    " FROM msgs WHERE chan = ?1");
    c->begin = prepare(c->db, "BEGIN");
    c->commit = prepare(c->db, "COMMIT");
}

static void conn_close(sq_conn *c)
{
    sqlite3_finalize(c->insert);
    sqlite3_finalize(c->insert_next);
    sqlite3_finalize(c->begin);
    sqlite3_finalize(c->commit);
    check(c->db, sqlite3_close(c->db), SQLITE_OK, "close");
}

static void insert(sq_conn *c, sqlite3_stmt *st, uint64_t seq, int64_t ts,
                   const void *data, size_t len)
{
    sqlite3_bind_int64(st, 1, CHANNEL_ID);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
    sqlite3_bind_int64(st, 3, ts);
    sqlite3_bind_blob(st, 4, len ? data : "", (int)len, SQLITE_STATIC);
    step_done(c->db, st, "insert");
}

/* The channel's first or last sequence, by statement; 0 when it is empty. */
static uint64_t seq_at_end(sq_db *db, sqlite3_stmt *st)
{
    uint64_t seq = 0;
    int rc;

    sqlite3_bind_int64(st, 1, CHANNEL_ID);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        seq = (uint64_t)sqlite3_column_int64(st, 0);
    else
        check(db->c.db, rc, SQLITE_DONE, "first/last sequence");
    sqlite3_reset(st);
    return seq;
}

static void *sq_open(const char *dir, int durable)
{
    sq_db *db = calloc(1, sizeof *db);

    if (!db)
        die("out of memory");
    snprintf(db->path, sizeof db->path, "%s/bench.sqlite", dir);
    db->durable = durable;
    conn_open(&db->c, db->path, durable);
    db->scan = prepare(db->c.db, "SELECT seq, data FROM msgs WHERE chan = ?1 ORDER BY seq");
    /* Two statements: MIN and MAX together would scan the whole channel. */
    db->first = prepare(db->c.db, "SELECT seq FROM msgs WHERE chan = ?1 ORDER BY seq LIMIT 1");
    db->last = prepare(db->c.db, "SELECT seq FROM msgs WHERE chan = ?1 ORDER BY seq DESC LIMIT 1");
    db->time_at = prepare(db->c.db, "SELECT ts FROM msgs WHERE chan = ?1 AND seq = ?2");
    db->msg_at = prepare(db->c.db, "SELECT seq, ts, data FROM msgs WHERE chan = ?1 AND seq = ?2");

    db->next_seq = seq_at_end(db, db->last) + 1;
    return db;
}

static void sq_close(void *p)
{
    sq_db *db = p;
    sqlite3_finalize(db->scan);
    sqlite3_finalize(db->first);
    sqlite3_finalize(db->last);
    sqlite3_finalize(db->time_at);
    sqlite3_finalize(db->msg_at);
    conn_close(&db->c);
    free(db);
}

static void sq_append(void *p, const void *data, size_t len)
{
    sq_db *db = p;
    insert(&db->c, db->c.insert, db->next_seq++, wall_ns(), data, len);
}

static void sq_append_batch(void *p, const void *const *data, const size_t *lens, size_t n)
{
    sq_db *db = p;
    int64_t ts = wall_ns();

    step_done(db->c.db, db->c.begin, "BEGIN");
    for (size_t i = 0; i < n; i++)
        insert(&db->c, db->c.insert, db->next_seq + i, ts, data[i], lens[i]);
    step_done(db->c.db, db->c.commit, "COMMIT");
    db->next_seq += n;
}

static void *sq_writer_open(void *p)
{
    sq_db *db = p;
    sq_conn *c = calloc(1, sizeof *c);
    if (!c)
        die("out of memory");
    conn_open(c, db->path, db->durable);
    return c;
}

static void sq_writer_append(void *w, const void *data, size_t len)
{
    sq_conn *c = w;
    insert(c, c->insert_next, 0, wall_ns(), data, len);
}

static void sq_writer_close(void *w)
{
    conn_close(w);
    free(w);
}

static uint64_t sq_scan(void *p, uint64_t *sum)
{
    sq_db *db = p;
    sqlite3_stmt *st = db->scan;
    uint64_t count = 0;
    int rc;

    sqlite3_bind_int64(st, 1, CHANNEL_ID);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *d = sqlite3_column_blob(st, 1);
        size_t len = (size_t)sqlite3_column_bytes(st, 1);
        *sum += (uint64_t)sqlite3_column_int64(st, 0) + len + (len ? d[0] + d[len - 1] : 0);
        count++;
    }
    check(db->c.db, rc, SQLITE_DONE, "scan");
    sqlite3_reset(st);
    return count;
}

static int64_t time_at(sq_db *db, uint64_t seq)
{
    sqlite3_stmt *st = db->time_at;
    int64_t t = -1;
    int rc;

    sqlite3_bind_int64(st, 1, CHANNEL_ID);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        t = sqlite3_column_int64(st, 0);
    else
        check(db->c.db, rc, SQLITE_DONE, "time_at");
    sqlite3_reset(st);
    return t;
}

static void bounds(sq_db *db, uint64_t *first, uint64_t *last)
{
    *first = seq_at_end(db, db->first);
    *last = seq_at_end(db, db->last);
}

static void sq_time_range(void *p, int64_t *first, int64_t *last)
{
    sq_db *db = p;
    uint64_t f, l;
    bounds(db, &f, &l);
    *first = time_at(db, f);
    *last = time_at(db, l);
}

/* The same binary search over sequences as raw LMDB, in one read
 * transaction, with the table's primary key and no extra index. */
static void *sq_seek_open(void *p, int64_t t, int64_t *found)
{
    sq_db *db = p;
    sqlite3_stmt *st = db->msg_at;
    uint64_t lo, hi, last;
    int rc;

    step_done(db->c.db, db->c.begin, "BEGIN");
    bounds(db, &lo, &last);
    hi = last + 1;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (time_at(db, mid) < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = -1;
    if (lo >= 1 && lo <= last) {
        sqlite3_bind_int64(st, 1, CHANNEL_ID);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)lo);
        rc = sqlite3_step(st);
        check(db->c.db, rc, SQLITE_ROW, "msg_at");
        *found = sqlite3_column_int64(st, 1);
        (void)sqlite3_column_blob(st, 2);
        /* left unreset: the row stays readable until seek_close */
    }
    return db;
}

static void sq_seek_close(void *p, void *s)
{
    sq_db *db = p;
    (void)s;
    sqlite3_reset(db->msg_at);
    step_done(db->c.db, db->c.commit, "COMMIT");
}

const engine engine_sqlite = {
    .name = "SQLite WAL",
    .open = sq_open,
    .close = sq_close,
    .append = sq_append,
    .append_batch = sq_append_batch,
    .writer_open = sq_writer_open,
    .writer_append = sq_writer_append,
    .writer_close = sq_writer_close,
    .scan = sq_scan,
    .time_range = sq_time_range,
    .seek_open = sq_seek_open,
    .seek_close = sq_seek_close,
};
