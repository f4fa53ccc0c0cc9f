/* Pipelined appends: many appends in flight from one thread.
 *
 * A submitted append becomes a heap request queued on the store's committer
 * (append.c) at once, in ticket order, so it joins the next group commit like
 * any synchronous append. The pipeline's thread leads a commit whenever its
 * requests head the queue and no other appender of the process leads. A
 * request's result is kept until the caller takes it, oldest first.
 *
 * All pipeline state is guarded by the committer's mutex: the leader marks
 * requests done under it, so one lock orders submission, commit and taking,
 * and there is no lock order to get wrong. The fd (an eventfd) is kept
 * readable exactly while the oldest request is done. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "dedup.h"
#include "errors.h"
#include "handles.h"
#include "store.h"
#include "write.h"

#define SL_PUBLIC __attribute__((visibility("default")))

#define REQUIRE(cond, ...)                                 \
    do {                                                   \
        if (!(cond))                                       \
            return sl_fail(STREAMLOG_EINVAL, __VA_ARGS__); \
    } while (0)

struct pipe_req {
    struct sl_append_req req; /* first: on_done gets &req */
    streamlog_pipe *pipe;
    uint64_t ticket;
    struct pipe_req *newer;   /* the pipeline's outstanding requests, oldest first */
    streamlog_channel ch;     /* a copy: the caller may close its handle meanwhile */
    const void *data, *hdrs;  /* what req.data / req.hdrs point to */
    size_t len, hdrs_len;
    char bytes[];             /* msg_id NUL, header block, payload */
};

struct streamlog_pipe {
    streamlog_store *st;
    uint32_t depth;
    uint32_t outstanding;     /* submitted, result not taken */
    uint32_t uncommitted;     /* submitted, not done */
    uint64_t last_ticket;
    struct pipe_req *oldest, *newest;
    pthread_cond_t lead_cv;   /* the thread: lead a commit, or stop */
    pthread_cond_t result_cv; /* takers: the oldest is done; close: all are done */
    int takers;               /* threads waiting on result_cv */
    int evfd;
    int fd_ready;             /* evfd holds a count */
    int stop;
    pthread_t thread;
};

/* Under the committer's mutex. */
static void fd_set_ready(streamlog_pipe *p, int ready)
{
    if (ready == p->fd_ready)
        return;
    if (ready) {
        sl_wake_fd(p->evfd);
    } else {
        uint64_t v;
        while (read(p->evfd, &v, sizeof v) < 0 && errno == EINTR)
            ;
    }
    p->fd_ready = ready;
}

/* Called by the leader, under the committer's mutex, in ticket order. */
static void request_done(struct sl_append_req *r)
{
    struct pipe_req *pr = (struct pipe_req *)r;
    streamlog_pipe *p = pr->pipe;
    p->uncommitted--;
    if (pr == p->oldest) {
        fd_set_ready(p, 1);
        if (p->takers)
            pthread_cond_broadcast(&p->result_cv);
    }
    if (!p->uncommitted && p->stop) {
        pthread_cond_broadcast(&p->result_cv); /* close waits for this */
        pthread_cond_signal(&p->lead_cv);      /* and the thread may end */
    }
}

static void *pipe_thread(void *arg)
{
    streamlog_pipe *p = arg;
    struct sl_committer *cm = &p->st->committer;
    pthread_mutex_lock(&cm->mu);
    while (!p->stop || p->uncommitted) {
        if (p->uncommitted && !cm->leader_active && cm->head)
            sl_committer_lead(p->st);
        else
            pthread_cond_wait(&p->lead_cv, &cm->mu);
    }
    pthread_mutex_unlock(&cm->mu);
    return NULL;
}

static void pipe_free(streamlog_pipe *p)
{
    if (p->evfd >= 0)
        close(p->evfd);
    sl_free(p);
}

SL_PUBLIC int streamlog_pipe_open(streamlog_store *st, uint32_t depth, streamlog_pipe **out)
{
    sl_clear_error();
    REQUIRE(st, "streamlog_pipe_open: store is NULL");
    REQUIRE(out, "streamlog_pipe_open: out is NULL");
    REQUIRE(depth >= 1 && depth <= STREAMLOG_PIPE_DEPTH_MAX, "streamlog_pipe_open: depth %u is not in 1..%d",
            depth, STREAMLOG_PIPE_DEPTH_MAX);
    if (st->readonly)
        return sl_fail(STREAMLOG_EPERM, "streamlog_pipe_open: the store is open read-only");
    streamlog_pipe *p = sl_calloc(1, sizeof *p);
    if (!p)
        return sl_fail(STREAMLOG_ENOMEM, "out of memory for a pipeline");
    p->st = st;
    p->depth = depth;
    p->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->evfd < 0) {
        int e = errno;
        pipe_free(p);
        return sl_fail(e == EMFILE || e == ENFILE ? STREAMLOG_EMFILE : e == ENOMEM ? STREAMLOG_ENOMEM : STREAMLOG_EIO,
                       "cannot create the pipeline's eventfd: %s", strerror(e));
    }
    int err = pthread_cond_init(&p->lead_cv, NULL);
    if (err) {
        pipe_free(p);
        return sl_fail(STREAMLOG_ENOMEM, "cannot create a condition variable");
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* timeouts immune to clock steps */
    err = pthread_cond_init(&p->result_cv, &ca);
    pthread_condattr_destroy(&ca);
    if (err) {
        pthread_cond_destroy(&p->lead_cv);
        pipe_free(p);
        return sl_fail(STREAMLOG_ENOMEM, "cannot create a condition variable");
    }
    sl_handle_note note;
    int rc = sl_handles_reserve(&note, SL_HANDLE_PIPE, "pipeline", NULL);
    err = rc ? 0 : pthread_create(&p->thread, NULL, pipe_thread, p);
    if (rc || err) {
        if (!rc)
            sl_handles_cancel(&note);
        pthread_cond_destroy(&p->result_cv);
        pthread_cond_destroy(&p->lead_cv);
        pipe_free(p);
        return rc ? rc : sl_fail(STREAMLOG_ENOMEM, "cannot start the pipeline's thread: %s", strerror(err));
    }
    sl_handles_add(&note, p, st);
    atomic_fetch_add(&st->children, 1);
    *out = p;
    return STREAMLOG_OK;
}

SL_PUBLIC int streamlog_pipe_append(streamlog_pipe *p, streamlog_channel *ch, const char *msg_id, const void *hdrs,
                                    size_t hdrs_len, const void *data, size_t len, uint64_t *out_ticket)
{
    sl_clear_error();
    REQUIRE(p, "streamlog_pipe_append: pipeline is NULL");
    REQUIRE(ch, "streamlog_pipe_append: channel is NULL");
    streamlog_store *st = p->st;
    REQUIRE(ch->st == st, "streamlog_pipe_append: channel '%s' belongs to another store", ch->name);
    size_t id_len = 0;
    if (msg_id) {
        id_len = strnlen(msg_id, SL_MSG_ID_MAX + 1);
        REQUIRE(id_len > 0 && id_len <= SL_MSG_ID_MAX, "streamlog_pipe_append: msg_id must be 1..%d bytes",
                SL_MSG_ID_MAX);
    }
    int rc = sl_append_check(st, &hdrs, &hdrs_len, &data, &len, 1);
    if (rc || (rc = sl_store_writable(st)))
        return sl_result(rc);

    size_t id_size = msg_id ? id_len + 1 : 0;
    struct pipe_req *pr = sl_malloc(sizeof *pr + id_size + hdrs_len + len);
    if (!pr)
        return sl_fail(STREAMLOG_ENOMEM, "out of memory for a pipelined append of %zu bytes", len);
    memset(pr, 0, offsetof(struct pipe_req, ch));
    pr->hdrs = NULL;
    pr->hdrs_len = 0;
    memcpy(&pr->ch, ch, offsetof(streamlog_channel, name) + ch->name_len + 1);
    char *b = pr->bytes;
    if (msg_id) {
        memcpy(b, msg_id, id_size);
        pr->req.msg_id = b;
        pr->req.msg_id_len = id_len;
        b += id_size;
    }
    if (hdrs_len) {
        memcpy(b, hdrs, hdrs_len);
        pr->hdrs = b;
        pr->hdrs_len = hdrs_len;
        pr->req.hdrs = &pr->hdrs;
        pr->req.hdrs_lens = &pr->hdrs_len;
        b += hdrs_len;
    }
    if (len)
        memcpy(b, data, len);
    pr->data = len ? b : NULL;
    pr->len = len;
    pr->req.ch = &pr->ch;
    pr->req.data = &pr->data;
    pr->req.lens = &pr->len;
    pr->req.n = 1;
    pr->req.wake = &p->lead_cv;
    pr->req.on_done = request_done;
    pr->pipe = p;

    struct sl_committer *cm = &st->committer;
    pthread_mutex_lock(&cm->mu);
    if (p->outstanding >= p->depth) {
        pthread_mutex_unlock(&cm->mu);
        sl_free(pr);
        return sl_fail(STREAMLOG_EAGAIN, "streamlog_pipe_append: %u appends are outstanding (the depth); take "
                       "results with streamlog_pipe_next", p->depth);
    }
    pr->ticket = ++p->last_ticket;
    if (p->newest)
        p->newest->newer = pr;
    else
        p->oldest = pr;
    p->newest = pr;
    p->outstanding++;
    p->uncommitted++;
    sl_committer_enqueue(cm, &pr->req);
    pthread_mutex_unlock(&cm->mu);
    if (out_ticket)
        *out_ticket = pr->ticket;
    return STREAMLOG_OK;
}

/* An absolute CLOCK_MONOTONIC deadline timeout_ms from now (result_cv's clock). */
static struct timespec deadline_after(int64_t timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (timeout_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return ts;
}

SL_PUBLIC int streamlog_pipe_next(streamlog_pipe *p, int64_t timeout_ms, uint64_t *out_ticket, int *out_rc,
                                  uint64_t *out_seq, int *out_duplicate)
{
    sl_clear_error();
    REQUIRE(p, "streamlog_pipe_next: pipeline is NULL");
    REQUIRE(out_rc, "streamlog_pipe_next: out_rc is NULL");
    REQUIRE(timeout_ms >= -1, "streamlog_pipe_next: timeout %lld is below -1", (long long)timeout_ms);
    struct sl_committer *cm = &p->st->committer;
    struct timespec until;
    if (timeout_ms > 0)
        until = deadline_after(timeout_ms);
    pthread_mutex_lock(&cm->mu);
    int rc = STREAMLOG_OK;
    while (p->oldest && !p->oldest->req.done) {
        if (timeout_ms == 0) {
            rc = STREAMLOG_EAGAIN;
            break;
        }
        p->takers++;
        int err = timeout_ms < 0 ? pthread_cond_wait(&p->result_cv, &cm->mu)
                                 : pthread_cond_timedwait(&p->result_cv, &cm->mu, &until);
        p->takers--;
        if (err == ETIMEDOUT && p->oldest && !p->oldest->req.done) {
            rc = STREAMLOG_ETIMEDOUT;
            break;
        }
    }
    if (!rc && !p->oldest)
        rc = STREAMLOG_ENOTFOUND;
    struct pipe_req *pr = NULL;
    if (!rc) {
        pr = p->oldest;
        p->oldest = pr->newer;
        if (!p->oldest)
            p->newest = NULL;
        p->outstanding--;
    }
    fd_set_ready(p, p->oldest && p->oldest->req.done);
    pthread_mutex_unlock(&cm->mu);

    switch (rc) {
    case STREAMLOG_OK:
        break;
    case STREAMLOG_EAGAIN:
        return sl_fail(rc, "streamlog_pipe_next: the oldest append is not stored yet");
    case STREAMLOG_ETIMEDOUT:
        return sl_fail(rc, "streamlog_pipe_next: the oldest append was not stored within %lld ms",
                       (long long)timeout_ms);
    default:
        return sl_fail(rc, "streamlog_pipe_next: no append is outstanding");
    }
    if (out_ticket)
        *out_ticket = pr->ticket;
    *out_rc = pr->req.rc;
    if (out_seq)
        *out_seq = pr->req.rc ? 0 : pr->req.first_seq;
    if (out_duplicate)
        *out_duplicate = pr->req.rc ? 0 : pr->req.duplicate;
    if (pr->req.rc)
        sl_fail(pr->req.rc, "%s", pr->req.errmsg);
    sl_free(pr);
    return STREAMLOG_OK;
}

SL_PUBLIC int streamlog_pipe_fd(streamlog_pipe *p)
{
    sl_clear_error();
    REQUIRE(p, "streamlog_pipe_fd: pipeline is NULL");
    return p->evfd;
}

SL_PUBLIC int streamlog_pipe_close(streamlog_pipe *p)
{
    sl_clear_error();
    REQUIRE(p, "streamlog_pipe_close: pipeline is NULL");
    streamlog_store *st = p->st;
    struct sl_committer *cm = &st->committer;
    sl_handles_remove(p);
    pthread_mutex_lock(&cm->mu);
    p->stop = 1;
    pthread_cond_signal(&p->lead_cv);
    while (p->uncommitted)
        pthread_cond_wait(&p->result_cv, &cm->mu);
    pthread_mutex_unlock(&cm->mu);
    pthread_join(p->thread, NULL);

    for (struct pipe_req *pr = p->oldest, *next; pr; pr = next) {
        next = pr->newer;
        sl_free(pr);
    }
    pthread_cond_destroy(&p->result_cv);
    pthread_cond_destroy(&p->lead_cv);
    pipe_free(p);
    atomic_fetch_sub(&st->children, 1);
    return STREAMLOG_OK;
}
