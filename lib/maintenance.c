/* The store's background thread: the SYNC_INTERVAL sync points, and once a
 * second clearing dead readers' slots, finishing channel deletions,
 * forgetting expired message ids and enforcing max_age. It sits above the
 * modules it drives (channels, dedup, retention, write). */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "channels.h"
#include "dedup.h"
#include "errors.h"
#include "maintenance.h"
#include "retention.h"
#include "write.h"

#define EXPIRY_PERIOD_MS 1000 /* expiry sweep and clearing dead readers' slots */

static void add_ms(struct timespec *ts, int64_t ms)
{
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

static int before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void *maintenance_main(void *arg)
{
    streamlog_store *st = arg;
    struct sl_maintenance *m = &st->maint;
    struct timespec now, next_sync, next_expiry;
    clock_gettime(CLOCK_MONOTONIC, &now);
    next_sync = next_expiry = now;
    add_ms(&next_sync, st->sync_interval_ms);
    add_ms(&next_expiry, EXPIRY_PERIOD_MS);
    int periodic_sync = st->sync_policy == STREAMLOG_SYNC_INTERVAL;

    pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        struct timespec wake = (periodic_sync && before(&next_sync, &next_expiry)) ? next_sync : next_expiry;
        pthread_cond_timedwait(&m->cv, &m->mu, &wake);
        if (m->stop)
            break;
        int sync_now = m->sync_now;
        m->sync_now = 0;
        pthread_mutex_unlock(&m->mu);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (periodic_sync && (sync_now || !before(&now, &next_sync))) {
            if (!atomic_load(&st->write_error))
                sl_store_sync(st);
            next_sync = now;
            add_ms(&next_sync, st->sync_interval_ms);
        }
        if (!before(&now, &next_expiry)) {
            sl_env_clear_stale_readers(st->env);
            if (!atomic_load(&st->write_error))
                (void)sl_channels_finish_deletes(st);
            sl_dedup_expire(st);
            sl_retention_sweep(st);
            next_expiry = now;
            add_ms(&next_expiry, EXPIRY_PERIOD_MS);
        }
        pthread_mutex_lock(&m->mu);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

int sl_maintenance_start(streamlog_store *st)
{
    struct sl_maintenance *m = &st->maint;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&m->mu, NULL);
    int err = pthread_create(&m->thread, NULL, maintenance_main, st);
    if (err) {
        pthread_cond_destroy(&m->cv);
        pthread_mutex_destroy(&m->mu);
        return sl_fail(err == ENOMEM ? STREAMLOG_ENOMEM : STREAMLOG_EIO,
                       "cannot start the store's background thread: %s", strerror(err));
    }
    m->running = 1;
    return STREAMLOG_OK;
}

void sl_maintenance_stop(streamlog_store *st)
{
    struct sl_maintenance *m = &st->maint;
    if (!m->running)
        return;
    pthread_mutex_lock(&m->mu);
    m->stop = 1;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->thread, NULL);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    m->running = 0;
}
