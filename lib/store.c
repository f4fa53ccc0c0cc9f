/* Store lifecycle: opening the LMDB environment with the configured policy,
 * refusing a second open of one directory in this process (LMDB's fcntl locks
 * would break); the top of the library's modules (see maintenance.c for the
 * background thread it starts). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "channels.h"
#include "encoding.h"
#include "errors.h"
#include "handles.h"
#include "maintenance.h"
#include "store.h"

/* The default limit costs address space, not disk; it shrinks to the minimum
 * at most where the address space is short. A 32-bit build has 4 GiB of it
 * in all, for every store the process opens. */
#if SIZE_MAX > UINT32_MAX
#define DEFAULT_MAX_STORE_BYTES ((uint64_t)1 << 40) /* 1 TiB */
#define MIN_DEFAULT_STORE_BYTES ((uint64_t)1 << 30)
#else
#define DEFAULT_MAX_STORE_BYTES ((uint64_t)512 << 20)
#define MIN_DEFAULT_STORE_BYTES ((uint64_t)64 << 20)
#endif
#define DEFAULT_MAX_PAYLOAD ((uint64_t)1 << 20)
#define DEFAULT_SYNC_INTERVAL_MS 100
#define DEFAULT_DEDUP_WINDOW_MS 120000 /* two minutes, as JetStream's duplicate window */
#define DEFAULT_MAX_READERS 1022

/* ---- in-process registry of open store directories ----
 *
 * A forked child inherits the registry but not the parent's stores (LMDB
 * environments must not be used across fork), so each entry remembers the
 * process that opened it and the child ignores its parent's entries. The
 * registry's mutex is held across fork() (pthread_atfork) so that a child
 * never inherits it locked by a thread that does not exist there. */

struct open_dir {
    dev_t dev;
    ino_t ino;
    pid_t pid;
    struct open_dir *next;
};
static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t registry_once = PTHREAD_ONCE_INIT;
static struct open_dir *registry;

static void registry_lock(void)
{
    pthread_mutex_lock(&registry_mu);
}

static void registry_unlock(void)
{
    pthread_mutex_unlock(&registry_mu);
}

static void registry_init(void)
{
    pthread_atfork(registry_lock, registry_unlock, registry_unlock);
}

static int registry_add(dev_t dev, ino_t ino)
{
    int rc = STREAMLOG_OK;
    pthread_once(&registry_once, registry_init);
    pid_t self = getpid();
    registry_lock();
    /* drop the entries a parent process left: their stores are not open here */
    for (struct open_dir **p = &registry; *p;) {
        if ((*p)->pid != self) {
            struct open_dir *d = *p;
            *p = d->next;
            sl_free(d);
        } else {
            p = &(*p)->next;
        }
    }
    for (struct open_dir *d = registry; d; d = d->next)
        if (d->dev == dev && d->ino == ino)
            rc = sl_fail(STREAMLOG_EBUSY, "this store is already open in this process; share that handle");
    if (!rc) {
        struct open_dir *d = sl_malloc(sizeof *d);
        if (!d) {
            rc = sl_fail(STREAMLOG_ENOMEM, "out of memory opening the store");
        } else {
            *d = (struct open_dir){dev, ino, self, registry};
            registry = d;
        }
    }
    registry_unlock();
    return rc;
}

static void registry_remove(dev_t dev, ino_t ino)
{
    pid_t self = getpid();
    registry_lock();
    for (struct open_dir **p = &registry; *p; p = &(*p)->next) {
        if ((*p)->dev == dev && (*p)->ino == ino && (*p)->pid == self) {
            struct open_dir *d = *p;
            *p = d->next;
            sl_free(d);
            break;
        }
    }
    registry_unlock();
}


/* ---- open / close ---- */

static int foreign_commits(void *ctx, size_t *last_seen)
{
    streamlog_store *st = ctx;
    return sl_env_foreign_commits(st->env, last_seen);
}

/* Headroom of the map above the limit on live data: copy-on-write needs free
 * pages even to delete, and freed pages are reused only once readers move on. */
static uint64_t map_headroom(uint64_t max_store_bytes)
{
    uint64_t headroom = max_store_bytes / 4;
    return headroom < ((uint64_t)8 << 20) ? (uint64_t)8 << 20 : headroom;
}

/* Stamp a new store with its format, in its first commit, unless another
 * process did since we looked: stamping again would reset the channel id
 * counter under channels it already created. */
static int stamp_work(sl_txn *t, void *ctx)
{
    (void)ctx;
    uint64_t format = 0;
    int rc = sl_meta_get(t, SL_META_FORMAT, &format);
    if (rc || format)
        return rc ? rc : SL_WRITE_NOTHING;
    rc = sl_meta_put(t, SL_META_FORMAT, SL_STORE_FORMAT);
    return rc ? rc : sl_meta_put(t, SL_META_NEXT_CHAN_ID, 1);
}

/* The stores being opened or created are nobody's yet: no latch to keep. */
static int stamp_format(sl_env *env)
{
    int commit_failed;
    return sl_env_write(env, 0, stamp_work, NULL, &commit_failed);
}

static int upgrade_work(sl_txn *t, void *ctx)
{
    (void)ctx;
    return sl_meta_put(t, SL_META_FORMAT, SL_STORE_FORMAT);
}

/* Check the format of an existing store, or stamp a new one. */
static int check_format(streamlog_store *st)
{
    sl_txn t;
    uint64_t format = 0;
    int rc = sl_read_begin(st->env, &t);
    if (rc)
        return rc;
    rc = sl_meta_get(&t, SL_META_FORMAT, &format);
    sl_read_end(&t);
    if (rc)
        return rc;
    if (format == SL_STORE_FORMAT || (format == SL_STORE_FORMAT_V1 && st->readonly))
        return STREAMLOG_OK;
    if (format == SL_STORE_FORMAT_V1) { /* upgrade: nothing to rewrite, only the stamp */
        int commit_failed;
        return sl_env_write(st->env, 0, upgrade_work, NULL, &commit_failed);
    }
    if (format != 0)
        return sl_fail(STREAMLOG_ECORRUPT, "store format %llu is not supported (this library reads formats %d and %d)",
                       (unsigned long long)format, SL_STORE_FORMAT_V1, SL_STORE_FORMAT);
    if (st->readonly)
        return sl_fail(STREAMLOG_ENOTFOUND, "the store was never initialised");
    return stamp_format(st->env);
}

/* A new store's data file is made in a temporary directory beside where it
 * goes, stamped and synced there, and only then linked into place: a power
 * loss while a store is being created leaves either no data.mdb or a whole
 * one, never a torn file that no open accepts. */
static int create_data_file(const char *dir, const struct sl_env_config *cfg)
{
    char final[PATH_MAX], tmp[PATH_MAX], file[PATH_MAX + 16];
    if (snprintf(final, sizeof final, "%s/data.mdb", dir) >= (int)sizeof final ||
        snprintf(tmp, sizeof tmp, "%s/.creating-XXXXXX", dir) >= (int)sizeof tmp)
        return sl_fail(STREAMLOG_EINVAL, "store path too long");
    if (access(final, F_OK) == 0 || errno != ENOENT)
        return STREAMLOG_OK; /* there already (or unreadable: the open says why) */
    if (!mkdtemp(tmp))
        return sl_fail(errno == EACCES || errno == EPERM || errno == EROFS ? STREAMLOG_EPERM : STREAMLOG_EIO,
                       "cannot create a store in '%s': %s", dir, strerror(errno));
    struct sl_env_config c = *cfg;
    c.sync_mode = SL_SYNC_FULL;
    sl_env *env;
    uint64_t map_bytes;
    int rc = sl_env_open(tmp, &c, &env, &map_bytes);
    if (!rc) {
        if (!(rc = stamp_format(env)))
            rc = sl_env_sync(env);
        sl_env_close(env);
    }
    snprintf(file, sizeof file, "%s/data.mdb", tmp);
    if (!rc && (rc = sl_fsync_path(file, 0)) == STREAMLOG_OK) {
        if (link(file, final) != 0 && errno != EEXIST) /* EEXIST: another process made it first */
            rc = sl_fail(STREAMLOG_EIO, "cannot create '%s': %s", final, strerror(errno));
        else
            rc = sl_fsync_path(dir, 1);
    }
    unlink(file);
    snprintf(file, sizeof file, "%s/lock.mdb", tmp);
    unlink(file);
    rmdir(tmp);
    return rc;
}

int sl_store_open(const char *dir, const streamlog_opts *opts, streamlog_store **out)
{
    int readonly = (int)sl_opts_int(opts, STREAMLOG_OPT_READONLY, 0);
    if (!readonly && mkdir(dir, 0755) != 0 && errno != EEXIST)
        return sl_fail(errno == EACCES || errno == EPERM || errno == EROFS ? STREAMLOG_EPERM : STREAMLOG_EIO,
                       "cannot create store directory '%s': %s", dir, strerror(errno));
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return sl_fail(errno == ENOENT && readonly ? STREAMLOG_ENOTFOUND
                       : errno == EACCES       ? STREAMLOG_EPERM
                                               : STREAMLOG_EIO,
                       "cannot open store directory '%s': %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return sl_fail(STREAMLOG_EIO, "'%s' is not a directory", dir);

    streamlog_store *st = sl_calloc(1, sizeof *st);
    if (!st)
        return sl_fail(STREAMLOG_ENOMEM, "out of memory opening the store");
    st->dev = sb.st_dev;
    st->readonly = readonly;
    st->ino = sb.st_ino;
    st->sync_policy = (int)sl_opts_int(opts, STREAMLOG_OPT_SYNC, STREAMLOG_SYNC_ALWAYS);
    st->sync_interval_ms = sl_opts_int(opts, STREAMLOG_OPT_SYNC_INTERVAL_MS, DEFAULT_SYNC_INTERVAL_MS);
    st->max_store_bytes = (uint64_t)sl_opts_int(opts, STREAMLOG_OPT_MAX_STORE_BYTES, 0);
    if (st->max_store_bytes == 0)
        st->max_store_bytes = DEFAULT_MAX_STORE_BYTES;
    st->max_channels = (uint64_t)sl_opts_int(opts, STREAMLOG_OPT_MAX_CHANNELS, 0);
    st->max_payload = (uint64_t)sl_opts_int(opts, STREAMLOG_OPT_MAX_PAYLOAD, (int64_t)DEFAULT_MAX_PAYLOAD);
    if (st->max_payload == 0)
        st->max_payload = (uint64_t)STREAMLOG_PAYLOAD_HARD_MAX;
    st->defaults.dedup_window_ms = DEFAULT_DEDUP_WINDOW_MS;
    sl_opts_apply_limits(opts, &st->defaults);

    int rc = registry_add(st->dev, st->ino);
    if (rc) {
        sl_free(st);
        return rc;
    }
    /* Every process maps the default size (or more, for a larger limit),
     * whatever its MAX_STORE_BYTES: a process whose map is smaller than the
     * file another one grew gets MDB_MAP_RESIZED on every call. The limit on
     * live data is enforced by the append path, not by the map. */
    int default_size = !sl_opts_int(opts, STREAMLOG_OPT_MAX_STORE_BYTES, 0);
    uint64_t wanted = st->max_store_bytes + map_headroom(st->max_store_bytes);
    uint64_t usual = DEFAULT_MAX_STORE_BYTES + map_headroom(DEFAULT_MAX_STORE_BYTES);
    struct sl_env_config cfg = {
        .map_bytes = wanted > usual ? wanted : usual,
        .min_map_bytes = default_size || wanted < MIN_DEFAULT_STORE_BYTES ? MIN_DEFAULT_STORE_BYTES : wanted,
        .sync_mode = st->sync_policy == STREAMLOG_SYNC_ALWAYS     ? SL_SYNC_FULL
                     : st->sync_policy == STREAMLOG_SYNC_INTERVAL ? SL_SYNC_DATA
                                                                  : SL_SYNC_NONE,
        .max_readers = (unsigned)sl_opts_int(opts, STREAMLOG_OPT_MAX_READERS, DEFAULT_MAX_READERS),
        .readonly = readonly,
    };
    uint64_t map_bytes;
    if (!readonly)
        rc = create_data_file(dir, &cfg);
    if (!rc)
        rc = sl_env_open(dir, &cfg, &st->env, &map_bytes);
    if (!rc && default_size && map_bytes != cfg.map_bytes) /* the default did not fit the address space */
        st->max_store_bytes = map_bytes - map_bytes / 5;
    if (!rc)
        rc = check_format(st);
    if (!rc && readonly) { /* nothing to register, finish or maintain; appends meet EPERM in the committer */
        if (!(rc = sl_committer_init(&st->committer))) {
            *out = st;
            return STREAMLOG_OK;
        }
    }
    if (!rc)
        rc = sl_notifier_init(&st->notifier, dir, foreign_commits, st);
    if (!rc && (rc = sl_committer_init(&st->committer)))
        sl_notifier_destroy(&st->notifier);
    if (!rc) {
        /* Best effort: a purge that cannot finish now (a full disk) must not
         * make the store unopenable; the maintenance thread retries it. */
        (void)sl_channels_finish_deletes(st);
        rc = sl_maintenance_start(st);
        if (rc) {
            sl_committer_destroy(&st->committer);
            sl_notifier_destroy(&st->notifier);
        }
    }
    if (rc) {
        sl_env_close(st->env);
        registry_remove(st->dev, st->ino);
        sl_free(st);
        return rc;
    }
    *out = st;
    return STREAMLOG_OK;
}

int sl_store_close(streamlog_store *st)
{
    if (atomic_load(&st->children) > 0)
        return sl_handles_busy(st);
    if (st->readonly) {
        sl_committer_destroy(&st->committer);
        sl_env_close(st->env);
        registry_remove(st->dev, st->ino);
        sl_free(st);
        return STREAMLOG_OK;
    }
    sl_maintenance_stop(st);
    int rc = atomic_load(&st->write_error)
                 ? sl_fail(STREAMLOG_EIO, "the store was closed after a failed write or sync")
                 : sl_env_sync_for_close(st->env);
    sl_committer_destroy(&st->committer);
    sl_notifier_destroy(&st->notifier);
    sl_env_close(st->env);
    registry_remove(st->dev, st->ino);
    sl_free(st);
    return rc;
}
