/* Notification: waking subscribers when their channel may have something new.
 *
 * Each subscription has a waiter: a "woken" flag with a condition variable
 * to sleep on, plus an eventfd only once the application asks for the
 * subscription's fd (so a subscription nobody polls costs no descriptor).
 * Appends in this process wake the waiters of their channel right after the
 * commit. Commits by other processes are seen through inotify on the store's
 * data file: a watcher thread, running only while the process has
 * subscriptions, wakes every waiter when another process commits. No
 * polling: an idle store costs no CPU.
 *
 * Every process with the store open has an entry in the store's procs/
 * directory (named pid.starttime). The watcher watches the data file only
 * while another live process has the store open, so a process alone with
 * its store is never woken by its own commits. */
#ifndef SL_NOTIFY_H
#define SL_NOTIFY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SL_NOTIFY_BUCKETS 64

struct sl_waiter {
    uint64_t chan_id;
    pthread_mutex_t mu;    /* guards woken and eventfd */
    pthread_cond_t cv;     /* on CLOCK_MONOTONIC */
    int woken;             /* woken since the waiter last consumed it */
    int eventfd;           /* -1 until attached; readable exactly while woken */
    struct sl_waiter *prev, *next; /* the notifier's list (under its mu) */
};

struct sl_notifier {
    pthread_mutex_t lifecycle_mu;  /* held while adding/removing, so the watcher starts and stops once */
    pthread_mutex_t mu;            /* guards the waiter lists */
    /* waiters by channel (hashed), so that an append walks the waiters of
     * its own channel only, not every subscription of the process */
    struct sl_waiter *waiters[SL_NOTIFY_BUCKETS];
    atomic_int nwaiters;           /* lets appends skip the lock when nobody listens */
    char *data_path;       /* the LMDB data file watched with inotify */
    char *procs_path;      /* the directory of process entries */
    char *own_entry;       /* this process's entry in it */
    int inotify_fd;        /* -1 while no watcher runs */
    int procs_wd, data_wd; /* inotify watches; data_wd -1 while alone */
    int stop_fd;           /* eventfd telling the watcher to stop */
    /* Did another process commit since *last_seen? (else the change was
     * ours, and this process's subscribers were woken already) */
    int (*foreign)(void *ctx, size_t *last_seen);
    void *foreign_ctx;
    pthread_t watcher;
};

int  sl_notifier_init(struct sl_notifier *n, const char *dir, int (*foreign)(void *ctx, size_t *last_seen),
                      void *foreign_ctx);
void sl_notifier_destroy(struct sl_notifier *n);

/* A waiter starts woken: its subscription may have messages already. */
void sl_waiter_init(struct sl_waiter *w, uint64_t chan_id);
void sl_waiter_destroy(struct sl_waiter *w);
/* Make the waiter's state visible on eventfd `fd` from now on (it becomes
 * readable at once when the waiter is woken). */
void sl_waiter_attach_fd(struct sl_waiter *w, int fd);
void sl_waiter_wake(struct sl_waiter *w);
/* Whether it was woken since the last call; clears it (and drains its eventfd). */
int  sl_waiter_consume(struct sl_waiter *w);
/* Sleep until woken or until CLOCK_MONOTONIC reaches `until_ns` (INT64_MAX:
 * no limit); does not consume the wake-up. */
void sl_waiter_wait(struct sl_waiter *w, int64_t until_ns);

/* Register / unregister a waiter (starting / stopping the watcher thread). */
int  sl_notify_add(struct sl_notifier *n, struct sl_waiter *w);
void sl_notify_remove(struct sl_notifier *n, struct sl_waiter *w);

/* Wake the waiters of one channel (after this process committed to it). */
void sl_notify_channel(struct sl_notifier *n, uint64_t chan_id);

/* Make an eventfd readable. */
void sl_wake_fd(int fd);

#endif
