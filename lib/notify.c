#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "alloc.h"
#include "errors.h"
#include "notify.h"
#include "process.h"
#include "streamlog.h"

void sl_wake_fd(int fd)
{
    uint64_t one = 1;
    /* EAGAIN means the counter is already non-zero: the waiter is awake anyway */
    while (write(fd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

void sl_waiter_init(struct sl_waiter *w, uint64_t chan_id)
{
    w->chan_id = chan_id;
    w->woken = 1;
    w->eventfd = -1;
    w->prev = w->next = NULL;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
}

void sl_waiter_destroy(struct sl_waiter *w)
{
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}

void sl_waiter_attach_fd(struct sl_waiter *w, int fd)
{
    pthread_mutex_lock(&w->mu);
    w->eventfd = fd;
    if (w->woken)
        sl_wake_fd(fd);
    pthread_mutex_unlock(&w->mu);
}

void sl_waiter_wake(struct sl_waiter *w)
{
    pthread_mutex_lock(&w->mu);
    int was = w->woken; /* already woken: the eventfd is readable, a sleeper was signalled */
    w->woken = 1;
    if (!was && w->eventfd >= 0)
        sl_wake_fd(w->eventfd);
    pthread_mutex_unlock(&w->mu);
    /* signalled after unlocking, so that the sleeper does not wake into a
     * held mutex; the waiter outlives this call (it leaves the notifier's
     * list, under the notifier's lock, before it is destroyed) */
    if (!was)
        pthread_cond_broadcast(&w->cv);
}

int sl_waiter_consume(struct sl_waiter *w)
{
    pthread_mutex_lock(&w->mu);
    int woken = w->woken;
    w->woken = 0;
    uint64_t v;
    if (woken && w->eventfd >= 0)
        while (read(w->eventfd, &v, sizeof v) < 0 && errno == EINTR)
            ;
    pthread_mutex_unlock(&w->mu);
    return woken;
}

void sl_waiter_wait(struct sl_waiter *w, int64_t until_ns)
{
    struct timespec ts = {.tv_sec = until_ns / 1000000000, .tv_nsec = until_ns % 1000000000};
    pthread_mutex_lock(&w->mu);
    while (!w->woken) {
        int rc = until_ns == INT64_MAX ? pthread_cond_wait(&w->cv, &w->mu)
                                       : pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        if (rc == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&w->mu);
}

static struct sl_waiter **bucket_of(struct sl_notifier *n, uint64_t chan_id)
{
    return &n->waiters[((chan_id * 0x9e3779b97f4a7c15ULL) >> 32) % SL_NOTIFY_BUCKETS]; /* Fibonacci hashing */
}

static char *path_join(const char *a, const char *b)
{
    size_t len = strlen(a) + 1 + strlen(b) + 1;
    char *p = sl_malloc(len);
    if (p)
        snprintf(p, len, "%s/%s", a, b);
    return p;
}

int sl_notifier_init(struct sl_notifier *n, const char *dir, int (*foreign)(void *ctx, size_t *last_seen),
                     void *foreign_ctx)
{
    memset(n, 0, sizeof *n);
    n->foreign = foreign;
    n->foreign_ctx = foreign_ctx;
    n->inotify_fd = n->stop_fd = -1;
    n->procs_wd = n->data_wd = -1;
    uint32_t pid;
    uint64_t start;
    char name[64];
    sl_process_identity(&pid, &start);
    snprintf(name, sizeof name, "%u.%llu", (unsigned)pid, (unsigned long long)start);
    n->data_path = path_join(dir, "data.mdb");
    n->procs_path = path_join(dir, "procs");
    n->own_entry = n->procs_path ? path_join(n->procs_path, name) : NULL;
    if (!n->data_path || !n->procs_path || !n->own_entry) {
        sl_free(n->data_path);
        sl_free(n->procs_path);
        sl_free(n->own_entry);
        return sl_fail(STREAMLOG_ENOMEM, "out of memory opening the store");
    }
    int fd = -1;
    if ((mkdir(n->procs_path, 0755) != 0 && errno != EEXIST) ||
        (fd = open(n->own_entry, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) < 0) {
        int e = errno;
        sl_free(n->data_path);
        sl_free(n->procs_path);
        sl_free(n->own_entry);
        return sl_fail(STREAMLOG_EIO, "cannot register in the store's procs directory: %s", strerror(e));
    }
    close(fd);
    pthread_mutex_init(&n->mu, NULL);
    pthread_mutex_init(&n->lifecycle_mu, NULL);
    return STREAMLOG_OK;
}

/* Does another live process have the store open? Removes the entries of
 * dead processes on the way. */
static int others_present(struct sl_notifier *n)
{
    DIR *d = opendir(n->procs_path);
    if (!d)
        return 1; /* cannot tell: watch, a spurious wake-up is harmless */
    const char *own = strrchr(n->own_entry, '/') + 1;
    int others = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned pid;
        unsigned long long start;
        char tail;
        if (sscanf(e->d_name, "%u.%llu%c", &pid, &start, &tail) != 2 || strcmp(e->d_name, own) == 0)
            continue;
        if (sl_process_alive(pid, start)) {
            others = 1;
        } else {
            char *stale = path_join(n->procs_path, e->d_name);
            if (stale)
                unlink(stale);
            sl_free(stale);
        }
    }
    closedir(d);
    return others;
}

static void wake_all(struct sl_notifier *n);

/* Watch the data file exactly while other processes have the store open. */
static void update_data_watch(struct sl_notifier *n)
{
    int others = others_present(n);
    if (others && n->data_wd < 0) {
        n->data_wd = inotify_add_watch(n->inotify_fd, n->data_path, IN_MODIFY);
    } else if (!others && n->data_wd >= 0) {
        inotify_rm_watch(n->inotify_fd, n->data_wd);
        n->data_wd = -1;
    }
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
    n->procs_wd = n->data_wd = -1;
}

void sl_notifier_destroy(struct sl_notifier *n)
{
    watcher_stop(n);
    pthread_mutex_destroy(&n->mu);
    pthread_mutex_destroy(&n->lifecycle_mu);
    unlink(n->own_entry);
    sl_free(n->data_path);
    sl_free(n->procs_path);
    sl_free(n->own_entry);
}

static void wake_all(struct sl_notifier *n)
{
    pthread_mutex_lock(&n->mu);
    for (size_t b = 0; b < SL_NOTIFY_BUCKETS; b++)
        for (struct sl_waiter *w = n->waiters[b]; w; w = w->next)
            sl_waiter_wake(w);
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
        /* drain every queued event, then act once; this process's own
         * commits have woken their subscribers already */
        int procs_changed = 0, data_changed = 0;
        ssize_t len;
        while ((len = read(n->inotify_fd, buf, sizeof buf)) > 0) {
            for (char *p = buf; p < buf + len;) {
                const struct inotify_event *ev = (const struct inotify_event *)p;
                procs_changed |= ev->wd == n->procs_wd;
                data_changed |= ev->wd == n->data_wd;
                p += sizeof *ev + ev->len;
            }
        }
        /* A process that came (or came and went) may have committed before
         * the data file was watched: wake everyone once (this is rare). */
        if (procs_changed)
            update_data_watch(n);
        if (procs_changed || (data_changed && (!n->foreign || n->foreign(n->foreign_ctx, &last_seen))))
            wake_all(n);
    }
    return NULL;
}

static int watcher_start(struct sl_notifier *n)
{
    int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ifd < 0)
        return sl_fail(errno == EMFILE || errno == ENFILE ? STREAMLOG_EMFILE : STREAMLOG_EIO,
                       "inotify_init1: %s", strerror(errno));
    n->procs_wd = inotify_add_watch(ifd, n->procs_path, IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM);
    if (n->procs_wd < 0) {
        int e = errno;
        close(ifd);
        return sl_fail(STREAMLOG_EIO, "watching %s: %s", n->procs_path, strerror(e));
    }
    int sfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (sfd < 0) {
        int e = errno;
        close(ifd);
        return sl_fail(e == EMFILE || e == ENFILE ? STREAMLOG_EMFILE : STREAMLOG_EIO, "eventfd: %s", strerror(e));
    }
    n->inotify_fd = ifd;
    n->stop_fd = sfd;
    n->data_wd = -1;
    update_data_watch(n);
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
        struct sl_waiter **head = bucket_of(n, w->chan_id);
        w->prev = NULL;
        w->next = *head;
        if (w->next)
            w->next->prev = w;
        *head = w;
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
    /* unlinked in O(1): closing thousands of subscriptions is not quadratic */
    if (w->next)
        w->next->prev = w->prev;
    if (w->prev)
        w->prev->next = w->next;
    else
        *bucket_of(n, w->chan_id) = w->next;
    w->prev = w->next = NULL;
    int empty = atomic_fetch_sub(&n->nwaiters, 1) == 1;
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
    for (struct sl_waiter *w = *bucket_of(n, chan_id); w; w = w->next)
        if (w->chan_id == chan_id)
            sl_waiter_wake(w);
    pthread_mutex_unlock(&n->mu);
}
