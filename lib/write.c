/* The write path (see write.h): every write transaction of the library, the
 * latch that a failed commit or sync sets, and syncs on demand. */
#include <pthread.h>
#include <stdatomic.h>

#include "errors.h"
#include "write.h"

int sl_store_writable(streamlog_store *st)
{
    if (st->readonly)
        return sl_fail(STREAMLOG_EPERM, "the store is open read-only");
    if (atomic_load_explicit(&st->write_error, memory_order_acquire))
        return sl_fail(STREAMLOG_EIO, "an earlier write or sync failed; the store refuses writes until reopened");
    return STREAMLOG_OK;
}

/* Latch the store read-only when a commit or sync result means that what was
 * written may not be on disk (anything but a clean refusal such as EFULL). */
static void note_commit(streamlog_store *st, int rc)
{
    if (rc == STREAMLOG_EIO)
        atomic_store_explicit(&st->write_error, STREAMLOG_EIO, memory_order_release);
    /* (commits made while the store opens come before the thread exists) */
    if (st->maint.running && sl_env_sync_point_wanted(st->env)) {
        pthread_mutex_lock(&st->maint.mu);
        st->maint.sync_now = 1;
        pthread_cond_signal(&st->maint.cv);
        pthread_mutex_unlock(&st->maint.mu);
    }
}

int sl_store_write(streamlog_store *st, int relaxed, sl_write_fn work, void *ctx)
{
    int rc = sl_store_writable(st), commit_failed = 0;
    if (rc)
        return rc;
    rc = sl_env_write(st->env, relaxed, work, ctx, &commit_failed);
    if (!rc || commit_failed)
        note_commit(st, rc);
    return rc;
}

int sl_store_sync(streamlog_store *st)
{
    int rc = sl_env_sync(st->env);
    note_commit(st, rc);
    return rc;
}

