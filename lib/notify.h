/* Notification: waking subscribers when their channel may have something new.
 *
 * Each subscription owns an eventfd (a "waiter"). Appends in this process
 * signal the waiters of their channel right after the commit. Commits by
 * other processes are seen through inotify on the store's data file: a
 * watcher thread, running only while the process has subscriptions, wakes
 * every waiter when another process commits. No polling: an idle store costs
 * no CPU.
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

struct sl_waiter {
    uint64_t chan_id;
    int eventfd;
    struct sl_waiter *next;
};

struct sl_notifier {
    pthread_mutex_t lifecycle_mu;  /* held while adding/removing, so the watcher starts and stops once */
    pthread_mutex_t mu;            /* guards the waiter list */
    struct sl_waiter *waiters;
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

/* Register / unregister a waiter (starting / stopping the watcher thread). */
int  sl_notify_add(struct sl_notifier *n, struct sl_waiter *w);
void sl_notify_remove(struct sl_notifier *n, struct sl_waiter *w);

/* Wake the waiters of one channel (after this process committed to it). */
void sl_notify_channel(struct sl_notifier *n, uint64_t chan_id);

/* Wake one eventfd. */
void sl_wake_fd(int fd);

#endif
