#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "alloc.h"
#include "errors.h"
#include "notify.h"
#include "streamlog.h"

void sl_wake_fd(int fd)
{
    uint64_t one = 1;
    /* EAGAIN means the counter is already non-zero: the waiter is awake anyway */
    while (write(fd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

int sl_notifier_init(struct sl_notifier *n, const char *dir, int (*foreign)(void *ctx, size_t *last_seen),
                     void *foreign_ctx)
{
    memset(n, 0, sizeof *n);
    n->foreign = foreign;
    n->foreign_ctx = foreign_ctx;
    size_t len = strlen(dir) + sizeof "/data.mdb";
    n->data_path = sl_malloc(len);
    if (!n->data_path)
        return sl_fail(STREAMLOG_ENOMEM, "out of memory opening the store");
    snprintf(n->data_path, len, "%s/data.mdb", dir);
    n->inotify_fd = -1;
    n->stop_fd = -1;
    pthread_mutex_init(&n->mu, NULL);
    pthread_mutex_init(&n->lifecycle_mu, NULL);
    return STREAMLOG_OK;
}

static void watcher_stop(struct sl_notifier *n)
{
    if (n->inotify_fd < 0)
        return;
    sl_wake_fd(n->stop_fd);
    pthread_join(n->watcher, NULL);
    close(n->inotify_fd);
    close(n->stop_fd);
    n->inotify_fd = n->stop_fd = -1;
}

void sl_notifier_destroy(struct sl_notifier *n)
{
    watcher_stop(n);
    pthread_mutex_destroy(&n->mu);
    pthread_mutex_destroy(&n->lifecycle_mu);
    sl_free(n->data_path);
}

static void wake_all(struct sl_notifier *n)
{
    pthread_mutex_lock(&n->mu);
    for (struct sl_waiter *w = n->waiters; w; w = w->next)
        sl_wake_fd(w->eventfd);
    pthread_mutex_unlock(&n->mu);
}

static void *watcher_main(void *arg)
{
    struct sl_notifier *n = arg;
    struct pollfd fds[2] = {{.fd = n->inotify_fd, .events = POLLIN}, {.fd = n->stop_fd, .events = POLLIN}};
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    size_t last_seen = 0;
    if (n->foreign)
        n->foreign(n->foreign_ctx, &last_seen);
    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (fds[1].revents)
            break;
        /* drain every queued event, then wake once; this process's own
         * commits have woken their subscribers already */
        while (read(n->inotify_fd, buf, sizeof buf) > 0)
            ;
        if (!n->foreign || n->foreign(n->foreign_ctx, &last_seen))
            wake_all(n);
    }
    return NULL;
}

static int watcher_start(struct sl_notifier *n)
{
    int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ifd < 0)
        return sl_fail(STREAMLOG_EIO, "inotify_init1: %s", strerror(errno));
    if (inotify_add_watch(ifd, n->data_path, IN_MODIFY) < 0) {
        int e = errno;
        close(ifd);
        return sl_fail(STREAMLOG_EIO, "watching %s: %s", n->data_path, strerror(e));
    }
    int sfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (sfd < 0) {
        close(ifd);
        return sl_fail(STREAMLOG_EIO, "eventfd: %s", strerror(errno));
    }
    n->inotify_fd = ifd;
    n->stop_fd = sfd;
    int err = pthread_create(&n->watcher, NULL, watcher_main, n);
    if (err) {
        close(ifd);
        close(sfd);
        n->inotify_fd = n->stop_fd = -1;
        return sl_fail(STREAMLOG_ENOMEM, "cannot start the notification thread: %s", strerror(err));
    }
    return STREAMLOG_OK;
}

int sl_notify_add(struct sl_notifier *n, struct sl_waiter *w)
{
    pthread_mutex_lock(&n->lifecycle_mu);
    int rc = n->inotify_fd < 0 ? watcher_start(n) : STREAMLOG_OK;
    if (!rc) {
        pthread_mutex_lock(&n->mu);
        w->next = n->waiters;
        n->waiters = w;
        atomic_fetch_add(&n->nwaiters, 1);
        pthread_mutex_unlock(&n->mu);
    }
    pthread_mutex_unlock(&n->lifecycle_mu);
    return rc;
}

void sl_notify_remove(struct sl_notifier *n, struct sl_waiter *w)
{
    pthread_mutex_lock(&n->lifecycle_mu);
    pthread_mutex_lock(&n->mu);
    for (struct sl_waiter **p = &n->waiters; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            atomic_fetch_sub(&n->nwaiters, 1);
            break;
        }
    }
    int empty = n->waiters == NULL;
    pthread_mutex_unlock(&n->mu);
    if (empty) /* joined without holding mu: the watcher takes it to wake waiters */
        watcher_stop(n);
    pthread_mutex_unlock(&n->lifecycle_mu);
}

void sl_notify_channel(struct sl_notifier *n, uint64_t chan_id)
{
    if (atomic_load(&n->nwaiters) == 0)
        return;
    pthread_mutex_lock(&n->mu);
    for (struct sl_waiter *w = n->waiters; w; w = w->next)
        if (w->chan_id == chan_id)
            sl_wake_fd(w->eventfd);
    pthread_mutex_unlock(&n->mu);
}
