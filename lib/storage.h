/* Storage: the only module that talks to LMDB. It owns the environment, the
 * named databases, transactions (with a pool of read transactions, so a read
 * costs a renew rather than a reader-slot search), cursors, and the mapping
 * of LMDB's errors onto STREAMLOG_E* codes. */
#ifndef SL_STORAGE_H
#define SL_STORAGE_H

#include <stddef.h>
#include <stdint.h>

/* LMDB's own types, declared but not defined here, so no other module needs lmdb.h. */
struct MDB_txn;
struct MDB_cursor;

typedef struct sl_env sl_env;
typedef struct MDB_cursor sl_cursor;

/* A transaction: plain caller-owned storage around LMDB's handle. */
typedef struct sl_txn {
    struct MDB_txn *mdb;
    sl_env *env;
    int write;
    int nested;   /* a child of another write transaction */
} sl_txn;

typedef struct sl_val {
    const void *data;
    size_t len;
} sl_val;

/* The databases of a store. */
enum sl_db {
    SL_DB_META,       /* store-wide counters and the format version */
    SL_DB_CHANNELS,   /* channel name -> channel record */
    SL_DB_MSGS,       /* (channel id, seq) -> message record */
    SL_DB_TOMBSTONES, /* channel id -> name, while a deleted channel's messages are purged */
    SL_DB_GROUPS,     /* (channel id, kind, name) -> durable / queue group record */
    SL_DB_MEMBERS,    /* (channel id, member id) -> an active subscription and its process */
    SL_DB_PENDING,    /* (group id, seq) -> an in-flight message of a group */
    SL_DB_DEDUP,      /* (channel id, message id) -> (seq, time) of an idempotent append */
    SL_DB_DEDUP_EXPIRY, /* (time, channel id, message id) -> nothing: the dedup window's order */
    SL_DB_COUNT
};

/* How commits reach the disk; each keeps the store consistent through the
 * crashes it names (see sl_env_open for the LMDB flags behind them). */
enum sl_sync_mode {
    SL_SYNC_FULL, /* data and meta page synced: a commit survives an OS crash */
    SL_SYNC_DATA, /* data synced, meta page left to the next commit or sync: an OS
                     crash may undo the last commit, never corrupts */
    SL_SYNC_NONE, /* nothing synced until a sync: survives process crashes only */
};

struct sl_env_config {
    uint64_t map_bytes;    /* LMDB map size */
    uint64_t min_map_bytes;/* when smaller than map_bytes: halve the map down to this while
                              the address space will not hold it (ulimit -v, valgrind) */
    int sync_mode;         /* an SL_SYNC_* mode, from the store's sync policy */
    unsigned max_readers;  /* reader table size, fixed by the first opener */
    int readonly;          /* MDB_RDONLY: nothing created or written */
};

/* Opens the environment; *map_bytes_out receives the map size used. */
int  sl_env_open(const char *dir, const struct sl_env_config *cfg, sl_env **out, uint64_t *map_bytes_out);
void sl_env_close(sl_env *env);
int  sl_env_sync(sl_env *env);          /* forced sync of all commits */
/* The same, by a process closing the store: the last SYNC_INTERVAL process
 * out marks its sync point no longer live (syncpoint.h). */
int  sl_env_sync_for_close(sl_env *env);
/* Whether enough SYNC_INTERVAL commits were made since the last sync point
 * that the next should not wait for the interval; answers yes once. */
int  sl_env_sync_point_wanted(sl_env *env);
/* Free the reader slots of dead processes: a killed reader's snapshot
 * otherwise keeps every page it sees from being reused, and the file grows.
 * Returns how many slots were freed. */
int  sl_env_clear_stale_readers(sl_env *env);
/* fsync a file (or, with is_dir, a directory's entries). */
int  sl_fsync_path(const char *path, int is_dir);

/* Read transactions come from a pool; end them with sl_read_end(). */
int  sl_read_begin(sl_env *env, sl_txn *t);
void sl_read_end(sl_txn *t);

/* A write transaction: begins one, runs `work` in it, aborts it when work
 * fails or returns SL_WRITE_NOTHING (the call then succeeds), else commits
 * it. *commit_failed tells a failure of the commit from one of work. Library
 * code writes through here (by way of sl_store_write, or directly while
 * creating a store).
 *
 * `relaxed` is for state whose loss costs only a redelivery (delivery
 * claims, acks, membership): under SL_SYNC_FULL its meta page is not synced
 * (SL_SYNC_DATA for this commit), which saves one of its two syncs. Never
 * MDB_NOSYNC: a later commit could then overwrite pages that the newest
 * durable meta page still points to. It survives a crash of the process
 * like any commit. */
#define SL_WRITE_NOTHING 1
typedef int (*sl_write_fn)(sl_txn *t, void *ctx);
int  sl_env_write(sl_env *env, int relaxed, sl_write_fn work, void *ctx, int *commit_failed);

/* The pieces sl_env_write is made of; outside storage only for nested
 * transactions inside work, and for tests that write raw records. */
int  sl_write_begin(sl_env *env, sl_txn *t);
int  sl_child_begin(sl_txn *parent, sl_txn *child);   /* nested write transaction */
int  sl_commit(sl_txn *t);   /* write or child; the transaction is over either way */
void sl_abort(sl_txn *t);    /* write or child */

/* Point reads and writes. sl_get returns STREAMLOG_ENOTFOUND for a missing key;
 * the value stays valid until the transaction ends or writes again. */
int sl_get(const sl_txn *t, int db, const void *key, size_t klen, sl_val *out);
int sl_put(sl_txn *t, int db, const void *key, size_t klen, const void *val, size_t vlen);
int sl_del(sl_txn *t, int db, const void *key, size_t klen);

/* Cursors. For a read transaction a cursor can outlive it and be renewed on
 * the next one; a write transaction's cursors must be closed before it ends. */
enum sl_cursor_op { SL_FIRST, SL_LAST, SL_NEXT, SL_PREV, SL_SEEK_GE, SL_CURRENT };
int  sl_cursor_open(const sl_txn *t, int db, sl_cursor **out);
int  sl_cursor_renew(const sl_txn *t, sl_cursor *c);
void sl_cursor_close(sl_cursor *c);
/* For SL_SEEK_GE, *key holds the key sought on input. ENOTFOUND at the ends. */
int  sl_cursor_get(sl_cursor *c, enum sl_cursor_op op, sl_val *key, sl_val *val);
int  sl_cursor_del(sl_cursor *c);
/* Insert `vlen` bytes at `key` and return where to write them in *dst (valid
 * until the next write). With `append` the key must sort after every key in
 * the database: STREAMLOG_EEXIST otherwise, and nothing is changed. */
int  sl_cursor_put_reserve(sl_cursor *c, const void *key, size_t klen, size_t vlen, int append, void **dst);

/* Whether any commit after *last_seen (a transaction id; 0 at first) was
 * made by another process; moves *last_seen to the newest. Errs towards 1
 * (a spurious wake-up), never towards 0 for a foreign commit. */
int sl_env_foreign_commits(sl_env *env, size_t *last_seen);

/* Whether a read transaction still sees the newest commit (of any process). */
int sl_read_is_latest(const sl_txn *t);

/* Bytes up to the highest page ever used in the file, as of the last
 * commit: an upper bound on live data before this transaction's writes. */
uint64_t sl_env_high_water(sl_env *env);

/* Disk space kept for deletions: copy-on-write needs new pages even to
 * delete, so a disk filled by appends to the last block could never be
 * freed again. */
#define SL_DELETE_RESERVE ((uint64_t)2 << 20)
/* Before writing about `need` bytes of new data: make sure the data file's
 * blocks are allocated for them plus SL_DELETE_RESERVE beyond LMDB's
 * high-water mark, so that a full disk is found here (EFULL, nothing
 * written) and not by LMDB in the middle of a commit. Only appends call it:
 * deletions may use the reserve. t is the write transaction about to
 * write. */
int sl_env_reserve_space(const sl_txn *t, uint64_t need);

/* Bytes of pages holding live data, as seen by this transaction. */
int sl_live_bytes(const sl_txn *t, uint64_t *out);

/* Test hook: the commit `n` commits from now fails with EIO (n = 0: the next
 * one), as if fdatasync had failed; n < 0 disables. */
void sl_storage_fail_commit_after(long n);
/* The same, with the errno LMDB would have returned. */
void sl_storage_fail_commit_with(long n, int err);
/* Test hook: the next forced sync fails with EIO when `fail` is set. */
void sl_storage_fail_sync(int fail);
/* Test hook: how many times this process has called mdb_env_open. */
long sl_storage_env_opens(void);

#endif
