/* Storage: LMDB environment, transactions, cursors and error mapping.
 * See LMDB-NOTES in the project's shared notes for the traps avoided here:
 * MDB_NOTLS because FFI callers hop threads; read transactions are reset
 * between uses so no snapshot pins old pages; write transactions never
 * outlive the call that began them. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "alloc.h"
#include "errors.h"
#include "storage.h"
#include "syncpoint.h"

#define READ_POOL_MAX 32
#define OWN_TXNIDS 64 /* this process's recent commit ids remembered */
#define RESERVE_STEP ((uint64_t)1 << 20) /* the data file's blocks are allocated in steps of this */
/* SYNC_INTERVAL: after this many commits the next sync point is not put off
 * until the interval ends, and after HARD commits committers wait for it. */
#define SYNC_POINT_MAX_COMMITS 100
#define SYNC_POINT_HARD_COMMITS 400

static const char *const db_names[SL_DB_COUNT] = {"meta",   "channels", "msgs",  "tombstones",   "groups",
                                                  "members", "pending", "dedup", "dedup_expiry"};
/* Databases that stores made before them lack until a writable open adds
 * them; a read-only open goes on without (nothing it does touches them). */
#define SL_DB_ADDED_LATER(i) ((i) >= SL_DB_DEDUP)

struct sl_env {
    MDB_env *mdb;
    int sync_mode;                  /* SL_SYNC_* */
    /* Serialises this process's write transactions (LMDB's own lock does so
     * across processes); held from begin to commit, it also makes the
     * temporary MDB_NOMETASYNC of sl_commit_relaxed() safe. */
    pthread_mutex_t write_mu;
    /* ids of this process's newest commits, so that its inotify watcher can
     * tell them from other processes' */
    atomic_size_t own_txnids[OWN_TXNIDS];
    atomic_uint own_next;
    MDB_dbi dbi[SL_DB_COUNT];
    int has_db[SL_DB_COUNT];        /* see SL_DB_ADDED_LATER */
    unsigned page_size;
    /* The data file's blocks are allocated (fallocate) up to here, ahead of
     * LMDB's writes; see sl_env_reserve_space. Under write_mu. */
    uint64_t allocated_to;
    int cannot_allocate;            /* the file system has no fallocate */
    pthread_mutex_t pool_mu;
    MDB_txn *pool[READ_POOL_MAX];   /* reset read transactions ready to renew */
    int pool_len;
    /* Sync points (syncpoint.h). With fast_interval, SL_SYNC_DATA commits
     * with MDB_NOSYNC and relies on them. pin holds the snapshot of this
     * process's last recorded sync point, so that its pages are never
     * reused; pin_spare is the reader slot the next one is taken with. */
    struct sl_syncfile sync;
    int fast_interval;
    pthread_mutex_t sync_mu;        /* sync points and every use of `sync` */
    /* A pin keeps every page freed after it from reuse, so the file grows by
     * what commits rewrite until the next sync point: after a burst of
     * commits, that one is not put off until the interval ends. */
    atomic_uint commits_since_sync_point;
    atomic_int sync_point_wanted;
    MDB_txn *pin, *pin_spare;
};

static atomic_long commit_fail_countdown = -1;
static atomic_int commit_fail_errno = EIO;

/* Whether the calling thread's write transaction (and its children) wrote
 * anything: LMDB gives an empty commit no transaction id, so only commits
 * that wrote may be recorded as this process's. A write transaction belongs
 * to one thread, so a thread-local flag is exact enough (a child aborted
 * after writing leaves it set; its parent then commits other writes or is
 * aborted). */
static _Thread_local int write_dirty;
static atomic_int sync_fail;
static atomic_long env_open_calls;

void sl_storage_fail_sync(int fail)
{
    atomic_store(&sync_fail, fail);
}

void sl_storage_fail_commit_after(long n)
{
    sl_storage_fail_commit_with(n, EIO);
}

void sl_storage_fail_commit_with(long n, int err)
{
    atomic_store(&commit_fail_errno, err);
    atomic_store(&commit_fail_countdown, n);
}

/* Map an LMDB or errno result onto our codes, recording why. */
static int map_err(int rc, const char *what)
{
    switch (rc) {
    case MDB_SUCCESS:
        return STREAMLOG_OK;
    case MDB_NOTFOUND:
        return STREAMLOG_ENOTFOUND;
    case MDB_KEYEXIST:
        return STREAMLOG_EEXIST;
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
    case ENOSPC:
    case EDQUOT:
        return sl_fail(STREAMLOG_EFULL, "%s: store is full (%s)", what, mdb_strerror(rc));
    case ENOMEM:
        return sl_fail(STREAMLOG_ENOMEM, "%s: out of memory", what);
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_INCOMPATIBLE:
        return sl_fail(STREAMLOG_ECORRUPT, "%s: %s", what, mdb_strerror(rc));
    case MDB_READERS_FULL:
        return sl_fail(STREAMLOG_EREADERS, "%s: every reader slot is taken (STREAMLOG_OPT_MAX_READERS): close "
                                           "iterators or release views", what);
    case EMFILE:
    case ENFILE:
        return sl_fail(STREAMLOG_EMFILE, "%s: %s", what, mdb_strerror(rc));
    case MDB_MAP_RESIZED:
    case EBUSY:
    case EAGAIN:
        return sl_fail(STREAMLOG_EBUSY, "%s: %s", what, mdb_strerror(rc));
    case EACCES:
    case EPERM:
    case EROFS:
        return sl_fail(STREAMLOG_EPERM, "%s: %s", what, mdb_strerror(rc));
    default:
        return sl_fail(STREAMLOG_EIO, "%s: %s", what, mdb_strerror(rc));
    }
}

/* A data file shorter than its newest meta page says would make the first
 * read of a missing page a SIGBUS: refuse it before any read. */
static int check_file_size(MDB_env *mdb, const char *dir)
{
    MDB_envinfo info;
    MDB_stat est;
    int fd;
    struct stat sb;
    if (mdb_env_info(mdb, &info) || mdb_env_stat(mdb, &est) || mdb_env_get_fd(mdb, &fd) || fstat(fd, &sb))
        return STREAMLOG_OK; /* nothing to compare with: LMDB checks what it can */
    uint64_t needed = ((uint64_t)info.me_last_pgno + 1) * est.ms_psize;
    if ((uint64_t)sb.st_size < needed)
        return sl_fail(STREAMLOG_ECORRUPT, "'%s': data.mdb is %llu bytes, but its last commit uses %llu: the file "
                                           "was truncated", dir, (unsigned long long)sb.st_size,
                       (unsigned long long)needed);
    return STREAMLOG_OK;
}

/* Pins the newest commit, syncs the file, and records that commit's meta
 * page as the point a reboot returns to (syncpoint.h). Under sync_mu. */
static int sync_point_locked(sl_env *env, int live)
{
    MDB_envinfo info;
    int recorded_live;
    uint64_t recorded;
    if (env->pin && mdb_env_info(env->mdb, &info) == 0 && info.me_last_txnid == mdb_txn_id(env->pin) &&
        sl_syncfile_live(&env->sync, &recorded_live, &recorded) == STREAMLOG_OK && recorded == info.me_last_txnid &&
        recorded_live == live)
        return STREAMLOG_OK; /* nothing committed since this process's recorded sync point */
    int rc = env->pin_spare ? mdb_txn_renew(env->pin_spare)
                            : mdb_txn_begin(env->mdb, NULL, MDB_RDONLY, &env->pin_spare);
    if (rc)
        return map_err(rc, "pinning a sync point");
    unsigned char meta[SL_META_BYTES], again[SL_META_BYTES];
    uint64_t pinned = 0, txnid, check;
    int captured = 0;
    /* The pinned commit's meta page is in the file until two more commits
     * have been made; if they were, pin the newest again. */
    for (int tries = 0; tries < 1000 && !rc && !captured; tries++) {
        pinned = mdb_txn_id(env->pin_spare);
        if ((rc = sl_syncfile_read_meta(&env->sync, (int)(pinned & 1), meta, &txnid)) ||
            (rc = sl_syncfile_read_meta(&env->sync, (int)(pinned & 1), again, &check)))
            break;
        captured = txnid == pinned && memcmp(meta, again, sizeof meta) == 0;
        if (!captured) {
            mdb_txn_reset(env->pin_spare);
            if ((rc = mdb_txn_renew(env->pin_spare)))
                rc = map_err(rc, "pinning a sync point");
            sched_yield();
        }
    }
    if (!rc && !captured)
        rc = sl_fail(STREAMLOG_EBUSY, "making a sync point: commits kept overtaking it");
    if (!rc && (rc = mdb_env_sync(env->mdb, 1)))
        rc = sl_fail(STREAMLOG_EIO, "syncing the store: %s", mdb_strerror(rc));
    if (!rc)
        rc = sl_syncfile_record(&env->sync, pinned, meta, live);
    if (rc) {
        mdb_txn_reset(env->pin_spare);
        return rc;
    }
    atomic_store(&env->commits_since_sync_point, 0);

    MDB_txn *old = env->pin;
    env->pin = env->pin_spare;
    env->pin_spare = old;
    if (old)
        mdb_txn_reset(old);
    return STREAMLOG_OK;
}

/* Whether a durable commit or sync must make a sync point: this process
 * commits without syncing, or another one did and the record is live.
 * With `unless_ours`: not when the recorded sync point is this process's
 * (pinned by it). Under sync_mu. */
static int sync_point_due(sl_env *env, int unless_ours)
{
    int live = 0;
    uint64_t recorded = 0;
    if (env->sync.fd < 0 || sl_syncfile_live(&env->sync, &live, &recorded) != STREAMLOG_OK)
        return 0;
    if (unless_ours && env->pin && recorded == mdb_txn_id(env->pin))
        return 0;
    return env->fast_interval || live;
}

/* Address space left beside the map for what LMDB maps and allocates. */
#define MAP_SPARE_BYTES ((uint64_t)64 << 20)
/* LMDB's map size is a size_t: a 32-bit build maps less than 4 GiB, and a
 * larger size would be cut to its low bits. */
#define MAX_MAP_BYTES ((uint64_t)SIZE_MAX - MAP_SPARE_BYTES)

/* The largest map, halving from `want` (at most MAX_MAP_BYTES) down to `min`
 * (0: want only), that the address space holds now (ulimit -v, valgrind),
 * with room to spare for what LMDB maps and allocates beside it. It is found
 * before mdb_env_open, never by retrying it: an open that fails after LMDB
 * set up lock.mdb as its only user leaves the lock region reset (transaction
 * id 0) for a process that opens meanwhile, whose next commit then overwrites
 * the newest one. */
static uint64_t fitting_map(uint64_t want, uint64_t min)
{
    uint64_t map = want < MAX_MAP_BYTES ? want : MAX_MAP_BYTES;
    while (min && map / 2 >= min) {
        void *p = mmap(NULL, map + MAP_SPARE_BYTES, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p != MAP_FAILED) {
            munmap(p, map + MAP_SPARE_BYTES);
            break;
        }
        map /= 2;
    }
    return map;
}

long sl_storage_env_opens(void)
{
    return atomic_load(&env_open_calls);
}

static void env_free(sl_env *env)
{
    sl_syncfile_close(&env->sync);
    pthread_mutex_destroy(&env->pool_mu);
    pthread_mutex_destroy(&env->write_mu);
    pthread_mutex_destroy(&env->sync_mu);
    sl_free(env);
}

int sl_env_open(const char *dir, const struct sl_env_config *cfg, sl_env **out, uint64_t *map_bytes_out)
{
    if (cfg->min_map_bytes > MAX_MAP_BYTES)
        return sl_fail(STREAMLOG_EINVAL,
                       "the store's limit and its headroom (%" PRIu64 " MiB of map) do not fit the address "
                       "space of a %zu-bit build: set a smaller STREAMLOG_OPT_MAX_STORE_BYTES",
                       cfg->min_map_bytes >> 20, sizeof(size_t) * 8);
    sl_env *env = sl_calloc(1, sizeof *env);
    if (!env)
        return sl_fail(STREAMLOG_ENOMEM, "out of memory opening the store");
    pthread_mutex_init(&env->pool_mu, NULL);
    pthread_mutex_init(&env->write_mu, NULL);
    pthread_mutex_init(&env->sync_mu, NULL);
    /* Before LMDB reads the meta pages: after a reboot they may have to
     * return to the last sync point. */
    int rc = sl_syncfile_open(dir, cfg->readonly, &env->sync);
    if (rc) {
        env_free(env);
        return rc;
    }
    /* MDB_NOMETASYNC syncs each commit's pages before its meta page is
     * written and defers that page to the next commit's sync: LMDB keeps the
     * last two snapshots' pages, so a crash finds the newest durable meta
     * page pointing at durable pages. MDB_NOSYNC gives no such order and may
     * corrupt the store in an OS crash (never in a process crash). */
    static const unsigned sync_flags[] = {
        [SL_SYNC_FULL] = 0, [SL_SYNC_DATA] = MDB_NOMETASYNC, [SL_SYNC_NONE] = MDB_NOSYNC};
    unsigned flags = MDB_NOTLS | sync_flags[cfg->sync_mode] | (cfg->readonly ? MDB_RDONLY : 0);
    uint64_t map = fitting_map(cfg->map_bytes, cfg->min_map_bytes);
    for (;;) {
        if ((rc = mdb_env_create(&env->mdb))) {
            env_free(env);
            return map_err(rc, "creating the LMDB environment");
        }
        atomic_fetch_add(&env_open_calls, 1);
        if ((rc = mdb_env_set_maxdbs(env->mdb, SL_DB_COUNT + 4)) || (rc = mdb_env_set_mapsize(env->mdb, map)) ||
            (rc = mdb_env_set_maxreaders(env->mdb, cfg->max_readers)) ||
            (rc = mdb_env_open(env->mdb, dir, flags, 0644))) {
            mdb_env_close(env->mdb);
            /* a reader that may not write lock.mdb (another user's store) reads
             * without LMDB's reader table; streamlog_open documents the risk */
            if (rc == EACCES && cfg->readonly && !(flags & MDB_NOLOCK)) {
                flags |= MDB_NOLOCK;
                continue;
            }
            env_free(env);
            if (rc == ENOENT && cfg->readonly)
                return sl_fail(STREAMLOG_ENOTFOUND, "'%s' holds no store", dir);
            return map_err(rc, "opening the store");
        }
        break;
    }
    *map_bytes_out = map;
    if ((rc = check_file_size(env->mdb, dir))) {
        mdb_env_close(env->mdb);
        env_free(env);
        return rc;
    }
    if (!(flags & MDB_NOLOCK))
        sl_env_clear_stale_readers(env); /* slots left by crashed processes */

    MDB_txn *txn;
    if ((rc = mdb_txn_begin(env->mdb, NULL, cfg->readonly ? MDB_RDONLY : 0, &txn))) {
        mdb_env_close(env->mdb);
        env_free(env);
        return map_err(rc, "opening the store's databases");
    }
    /* An environment whose main database holds anything but our databases
     * belongs to someone else: refuse it rather than write into it. */
    MDB_dbi main_dbi;
    MDB_cursor *mc;
    if (!(rc = mdb_dbi_open(txn, NULL, 0, &main_dbi)) && !(rc = mdb_cursor_open(txn, main_dbi, &mc))) {
        MDB_val k, v;
        int crc;
        for (crc = mdb_cursor_get(mc, &k, &v, MDB_FIRST); crc == 0; crc = mdb_cursor_get(mc, &k, &v, MDB_NEXT)) {
            int ours = 0;
            for (int i = 0; i < SL_DB_COUNT; i++)
                ours |= k.mv_size == strlen(db_names[i]) && memcmp(k.mv_data, db_names[i], k.mv_size) == 0;
            if (!ours)
                break;
        }
        mdb_cursor_close(mc);
        if (crc == 0) {
            mdb_txn_abort(txn);
            mdb_env_close(env->mdb);
            env_free(env);
            return sl_fail(STREAMLOG_ECORRUPT, "'%s' holds an LMDB environment that is not a libstreamlog store", dir);
        }
    }
    for (int i = 0; i < SL_DB_COUNT && !rc; i++) {
        rc = mdb_dbi_open(txn, db_names[i], cfg->readonly ? 0 : MDB_CREATE, &env->dbi[i]);
        env->has_db[i] = rc == MDB_SUCCESS;
        if (rc == MDB_NOTFOUND && cfg->readonly && SL_DB_ADDED_LATER(i))
            rc = MDB_SUCCESS;
    }
    if (!rc)
        rc = mdb_txn_commit(txn); /* also keeps the handles of a read-only transaction */
    else
        mdb_txn_abort(txn);
    if (rc) {
        mdb_env_close(env->mdb);
        env_free(env);
        if (rc == MDB_NOTFOUND)
            return sl_fail(STREAMLOG_ENOTFOUND, "'%s' holds no store", dir);
        return map_err(rc, "opening the store's databases");
    }
    env->sync_mode = cfg->sync_mode;
    MDB_stat est;
    env->page_size = mdb_env_stat(env->mdb, &est) == 0 ? est.ms_psize : 4096;
    /* SYNC_INTERVAL commits without syncing once its first sync point is
     * recorded as live; without sync points (no boot id to tell a reboot
     * by) it keeps MDB_NOMETASYNC, one fdatasync per commit. */
    if (cfg->sync_mode == SL_SYNC_DATA && env->sync.fd >= 0 && !cfg->readonly) {
        pthread_mutex_lock(&env->sync_mu);
        if (!(rc = sl_syncfile_join(&env->sync)) && !(rc = sync_point_locked(env, 1))) {
            if ((rc = mdb_env_set_flags(env->mdb, MDB_NOSYNC, 1)))
                rc = map_err(rc, "opening the store");
            env->fast_interval = rc == 0;
        }
        pthread_mutex_unlock(&env->sync_mu);
        if (rc) {
            sl_env_close(env);
            return rc;
        }
    }
    *out = env;
    return STREAMLOG_OK;
}

void sl_env_close(sl_env *env)
{
    if (!env)
        return;
    for (int i = 0; i < env->pool_len; i++)
        mdb_txn_abort(env->pool[i]);
    if (env->pin)
        mdb_txn_abort(env->pin);
    if (env->pin_spare)
        mdb_txn_abort(env->pin_spare);
    mdb_env_close(env->mdb);
    env_free(env);
}

static int env_sync(sl_env *env, int closing)
{
    if (atomic_exchange(&sync_fail, 0))
        return sl_fail(STREAMLOG_EIO, "syncing the store: injected I/O error");
    pthread_mutex_lock(&env->sync_mu);
    int rc;
    if (sync_point_due(env, 0)) {
        /* The last SYNC_INTERVAL process out leaves every commit on disk,
         * so its record need no longer be live. */
        int last = closing && env->fast_interval && sl_syncfile_last_out(&env->sync);
        rc = sync_point_locked(env, !last);
    } else if ((rc = mdb_env_sync(env->mdb, 1))) {
        rc = sl_fail(STREAMLOG_EIO, "syncing the store: %s", mdb_strerror(rc));
    }
    pthread_mutex_unlock(&env->sync_mu);
    return rc;
}

int sl_env_sync_point_wanted(sl_env *env)
{
    return atomic_exchange(&env->sync_point_wanted, 0);
}

int sl_env_sync(sl_env *env)
{
    return env_sync(env, 0);
}

int sl_env_sync_for_close(sl_env *env)
{
    return env_sync(env, 1);
}

int sl_fsync_path(const char *path, int is_dir)
{
    int fd = open(path, (is_dir ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sl_fail(STREAMLOG_EIO, "cannot open '%s' to sync it: %s", path, strerror(errno));
    int rc = fsync(fd) ? sl_fail(STREAMLOG_EIO, "syncing '%s': %s", path, strerror(errno)) : STREAMLOG_OK;
    close(fd);
    return rc;
}

int sl_env_clear_stale_readers(sl_env *env)
{
    /* A dead process's slot may pin the recorded sync point: record a
     * newer one, pinned by this process, before that slot is freed. */
    pthread_mutex_lock(&env->sync_mu);
    int ok = !sync_point_due(env, 1) || sync_point_locked(env, 1) == STREAMLOG_OK;
    pthread_mutex_unlock(&env->sync_mu);
    int dead = 0;
    return ok && mdb_reader_check(env->mdb, &dead) == 0 ? dead : 0;
}

int sl_read_begin(sl_env *env, sl_txn *t)
{
    MDB_txn *txn = NULL;
    pthread_mutex_lock(&env->pool_mu);
    if (env->pool_len > 0)
        txn = env->pool[--env->pool_len];
    pthread_mutex_unlock(&env->pool_mu);
    int rc;
    if (txn) {
        rc = mdb_txn_renew(txn);
        if (rc) {
            mdb_txn_abort(txn);
            txn = NULL;
        }
    }
    if (!txn) {
        rc = mdb_txn_begin(env->mdb, NULL, MDB_RDONLY, &txn);
        if (rc == MDB_READERS_FULL && sl_env_clear_stale_readers(env) > 0)
            rc = mdb_txn_begin(env->mdb, NULL, MDB_RDONLY, &txn);
        if (rc)
            return map_err(rc, "beginning a read transaction");
    }
    t->mdb = txn;
    t->env = env;
    t->write = 0;
    t->nested = 0;
    return STREAMLOG_OK;
}

void sl_read_end(sl_txn *t)
{
    sl_env *env = t->env;
    mdb_txn_reset(t->mdb);
    pthread_mutex_lock(&env->pool_mu);
    if (env->pool_len < READ_POOL_MAX) {
        env->pool[env->pool_len++] = t->mdb;
        t->mdb = NULL;
    }
    pthread_mutex_unlock(&env->pool_mu);
    if (t->mdb)
        mdb_txn_abort(t->mdb);
    t->mdb = NULL;
}

int sl_write_begin(sl_env *env, sl_txn *t)
{
    pthread_mutex_lock(&env->write_mu);
    int rc = mdb_txn_begin(env->mdb, NULL, 0, &t->mdb);
    if (rc) {
        pthread_mutex_unlock(&env->write_mu);
        return map_err(rc, "beginning a write transaction");
    }
    write_dirty = 0;
    t->env = env;
    t->write = 1;
    t->nested = 0;
    return STREAMLOG_OK;
}

int sl_child_begin(sl_txn *parent, sl_txn *child)
{
    int rc = mdb_txn_begin(parent->env->mdb, parent->mdb, 0, &child->mdb);
    if (rc)
        return map_err(rc, "beginning a nested transaction");
    child->env = parent->env;
    child->write = 1;
    child->nested = 1;
    return STREAMLOG_OK;
}

static void write_end(sl_txn *t)
{
    t->mdb = NULL;
    if (!t->nested)
        pthread_mutex_unlock(&t->env->write_mu);
}

static int commit_failed(sl_env *env, int err)
{
    if ((err == ENOSPC || err == EDQUOT) && !env->cannot_allocate && !env->fast_interval &&
        env->sync_mode != SL_SYNC_NONE) {
        /* LMDB returns the same errno for a failed write and a failed sync.
         * With the data file's blocks allocated ahead (sl_env_reserve_space)
         * a write cannot run out of space, so this was the sync, after which
         * the kernel may have dropped the pages it could not write. */
        return sl_fail(STREAMLOG_EIO, "committing: syncing the store failed (%s); the store refuses writes until "
                                      "reopened", mdb_strerror(err));
    }
    return map_err(err, "committing");
}

static int commit(sl_txn *t, int relaxed)
{
    long n = atomic_load(&commit_fail_countdown);
    if (n >= 0 && !t->nested) {
        atomic_store(&commit_fail_countdown, n - 1);
        if (n == 0) {
            mdb_txn_abort(t->mdb);
            write_end(t);
            return commit_failed(t->env, atomic_load(&commit_fail_errno));
        }
    }
    int toggle = relaxed && t->env->sync_mode == SL_SYNC_FULL && !t->nested;
    if (toggle)
        mdb_env_set_flags(t->env->mdb, MDB_NOMETASYNC, 1);
    size_t txnid = mdb_txn_id(t->mdb);
    int rc = mdb_txn_commit(t->mdb);
    int durable_write = !rc && !t->nested && write_dirty && !relaxed && t->env->sync_mode == SL_SYNC_FULL;
    if (!rc && !t->nested && write_dirty)
        atomic_store(&t->env->own_txnids[atomic_fetch_add(&t->env->own_next, 1) % OWN_TXNIDS], txnid);
    if (toggle)
        mdb_env_set_flags(t->env->mdb, MDB_NOMETASYNC, 0);
    sl_env *env = t->env;
    int t_nested = t->nested, dirty = write_dirty;
    write_end(t);
    if (rc)
        return commit_failed(env, rc);
    if (env->fast_interval && !t_nested && dirty) {
        unsigned since = atomic_fetch_add(&env->commits_since_sync_point, 1) + 1;
        if (since == SYNC_POINT_MAX_COMMITS)
            atomic_store(&env->sync_point_wanted, 1);
        else if (since >= SYNC_POINT_HARD_COMMITS) {
            /* the disk does not keep up: wait for the sync point under way
             * (or make one) rather than grow the file without bound. This
             * commit is stored under INTERVAL's rules either way: only a
             * failed sync (which latches) is its caller's business. */
            pthread_mutex_lock(&env->sync_mu);
            if (atomic_load(&env->commits_since_sync_point) >= SYNC_POINT_HARD_COMMITS)
                rc = sync_point_locked(env, 1);
            pthread_mutex_unlock(&env->sync_mu);
            if (rc == STREAMLOG_EIO)
                return rc;
            rc = STREAMLOG_OK;
        }
    }
    /* While a SYNC_INTERVAL process's commits may not be on disk, a reboot
     * returns to the recorded sync point: move it past this commit. */
    if (durable_write && env->sync.fd >= 0) {
        pthread_mutex_lock(&env->sync_mu);
        if (sync_point_due(env, 0))
            rc = sync_point_locked(env, 1);
        pthread_mutex_unlock(&env->sync_mu);
    }
    return rc;
}

int sl_commit(sl_txn *t)
{
    return commit(t, 0);
}

int sl_env_write(sl_env *env, int relaxed, sl_write_fn work, void *ctx, int *commit_failed)
{
    sl_txn t;
    *commit_failed = 0;
    int rc = sl_write_begin(env, &t);
    if (rc)
        return rc;
    if ((rc = work(&t, ctx))) {
        sl_abort(&t);
        return rc == SL_WRITE_NOTHING ? STREAMLOG_OK : rc;
    }
    rc = commit(&t, relaxed);
    *commit_failed = rc != STREAMLOG_OK;
    return rc;
}

void sl_abort(sl_txn *t)
{
    if (t->mdb) {
        mdb_txn_abort(t->mdb);
        write_end(t);
    }
}

static MDB_val mval(const void *p, size_t n)
{
    return (MDB_val){.mv_size = n, .mv_data = (void *)p};
}

int sl_get(const sl_txn *t, int db, const void *key, size_t klen, sl_val *out)
{
    if (!t->env->has_db[db])
        return STREAMLOG_ENOTFOUND;
    MDB_val k = mval(key, klen), v;
    int rc = mdb_get(t->mdb, t->env->dbi[db], &k, &v);
    if (rc)
        return map_err(rc, "reading");
    out->data = v.mv_data;
    out->len = v.mv_size;
    return STREAMLOG_OK;
}

int sl_put(sl_txn *t, int db, const void *key, size_t klen, const void *val, size_t vlen)
{
    MDB_val k = mval(key, klen), v = mval(val, vlen);
    write_dirty = 1;
    int rc = mdb_put(t->mdb, t->env->dbi[db], &k, &v, 0);
    return rc ? map_err(rc, "writing") : STREAMLOG_OK;
}

int sl_del(sl_txn *t, int db, const void *key, size_t klen)
{
    MDB_val k = mval(key, klen);
    write_dirty = 1;
    int rc = mdb_del(t->mdb, t->env->dbi[db], &k, NULL);
    return rc ? map_err(rc, "deleting") : STREAMLOG_OK;
}

int sl_cursor_open(const sl_txn *t, int db, sl_cursor **out)
{
    int rc = mdb_cursor_open(t->mdb, t->env->dbi[db], out);
    return rc ? map_err(rc, "opening a cursor") : STREAMLOG_OK;
}

int sl_cursor_renew(const sl_txn *t, sl_cursor *c)
{
    int rc = mdb_cursor_renew(t->mdb, c);
    return rc ? map_err(rc, "renewing a cursor") : STREAMLOG_OK;
}

void sl_cursor_close(sl_cursor *c)
{
    if (c)
        mdb_cursor_close(c);
}

int sl_cursor_get(sl_cursor *c, enum sl_cursor_op op, sl_val *key, sl_val *val)
{
    static const MDB_cursor_op ops[] = {
        [SL_FIRST] = MDB_FIRST, [SL_LAST] = MDB_LAST,        [SL_NEXT] = MDB_NEXT,
        [SL_PREV] = MDB_PREV,   [SL_SEEK_GE] = MDB_SET_RANGE, [SL_CURRENT] = MDB_GET_CURRENT,
    };
    MDB_val k = mval(key->data, key->len), v;
    int rc = mdb_cursor_get(c, &k, &v, ops[op]);
    if (rc)
        return map_err(rc, "reading through a cursor");
    key->data = k.mv_data;
    key->len = k.mv_size;
    if (val) {
        val->data = v.mv_data;
        val->len = v.mv_size;
    }
    return STREAMLOG_OK;
}

int sl_cursor_del(sl_cursor *c)
{
    write_dirty = 1;
    int rc = mdb_cursor_del(c, 0);
    return rc ? map_err(rc, "deleting through a cursor") : STREAMLOG_OK;
}

int sl_cursor_put_reserve(sl_cursor *c, const void *key, size_t klen, size_t vlen, int append, void **dst)
{
    MDB_val k = mval(key, klen), v = mval(NULL, vlen);
    write_dirty = 1;
    int rc = mdb_cursor_put(c, &k, &v, MDB_RESERVE | (append ? MDB_APPEND : 0));
    if (rc)
        return map_err(rc, "writing a message");
    *dst = v.mv_data;
    return STREAMLOG_OK;
}

int sl_env_foreign_commits(sl_env *env, size_t *last_seen)
{
    MDB_envinfo info;
    if (mdb_env_info(env->mdb, &info))
        return 1;
    size_t from = *last_seen, to = info.me_last_txnid;
    *last_seen = to;
    if (from == 0 || to - from > OWN_TXNIDS)
        return 1;
    for (size_t id = from + 1; id <= to; id++) {
        int ours = 0;
        for (int i = 0; i < OWN_TXNIDS && !ours; i++)
            ours = atomic_load(&env->own_txnids[i]) == id;
        if (!ours)
            return 1;
    }
    return 0;
}

int sl_env_reserve_space(const sl_txn *t, uint64_t need)
{
    sl_env *env = t->env;
    if (env->cannot_allocate)
        return STREAMLOG_OK;
    uint64_t high_water = sl_env_high_water(env);
    uint64_t target = high_water + need + SL_DELETE_RESERVE;
    if (target <= env->allocated_to)
        return STREAMLOG_OK;
    target += RESERVE_STEP - target % RESERVE_STEP; /* fewer, larger calls */
    int fd;
    if (mdb_env_get_fd(env->mdb, &fd))
        return STREAMLOG_OK;
    /* KEEP_SIZE: LMDB extends the file itself as it writes pages */
    if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)target) == 0) {
        env->allocated_to = target;
        return STREAMLOG_OK;
    }
    if (errno == ENOSPC || errno == EDQUOT) {
        /* Pages freed inside the file (a deleted channel, retention) are
         * reused before the file grows: if they hold `need`, go ahead. A
         * sync point's pin keeps pages freed since it from reuse: move it
         * to the newest commit first. */
        if (env->fast_interval) {
            pthread_mutex_lock(&env->sync_mu);
            int rc = sync_point_locked(env, 1);
            pthread_mutex_unlock(&env->sync_mu);
            if (rc)
                return rc;
        }
        uint64_t live;
        if (sl_live_bytes(t, &live) == STREAMLOG_OK && live + need + SL_DELETE_RESERVE / 2 <= high_water)
            return STREAMLOG_OK;
        return sl_fail(STREAMLOG_EFULL, "the disk is full: no room for %llu more bytes beside the %d MiB kept for "
                                        "deletions", (unsigned long long)need, (int)(SL_DELETE_RESERVE >> 20));
    }
    env->cannot_allocate = 1; /* EOPNOTSUPP and the like: do without */
    return STREAMLOG_OK;
}

uint64_t sl_env_high_water(sl_env *env)
{
    MDB_envinfo info;
    if (mdb_env_info(env->mdb, &info))
        return UINT64_MAX;
    return (uint64_t)(info.me_last_pgno + 1) * env->page_size;
}

int sl_read_is_latest(const sl_txn *t)
{
    MDB_envinfo info;
    if (mdb_env_info(t->env->mdb, &info))
        return 0;
    return (size_t)mdb_txn_id(t->mdb) == info.me_last_txnid;
}

int sl_live_bytes(const sl_txn *t, uint64_t *out)
{
    MDB_stat st;
    uint64_t pages = 0;
    unsigned psize = 0;
    /* MAIN_DBI (1) holds the named databases' records */
    int rc = mdb_stat(t->mdb, 1, &st);
    if (rc)
        return map_err(rc, "measuring the store");
    psize = st.ms_psize;
    pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    for (int i = 0; i < SL_DB_COUNT; i++) {
        if (!t->env->has_db[i])
            continue;
        if ((rc = mdb_stat(t->mdb, t->env->dbi[i], &st)))
            return map_err(rc, "measuring the store");
        pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    }
    *out = pages * psize;
    return STREAMLOG_OK;
}
