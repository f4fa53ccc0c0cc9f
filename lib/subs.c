/* Subscriptions.
 *
 * One delivery core serves every kind: the in-flight set in memory
 * (inflight.h), redeliveries and dead letters, acks, nak/progress/term and
 * the fd. It reads new messages through an internal iterator, and asks the
 * subscription's message source (struct sl_source) what it may deliver. The
 * iterator source (plain subscriptions) needs nothing more: its state dies
 * with it. The claims source (durables and queue groups, "grouped") keeps
 * the state in the store (groups.h):
 * new messages are claimed (a durable: in batches; a queue member: when the
 * delivery rule gives it the next one, one at a time while another member
 * waits, see claim_new and yield_claims) by
 * advancing the group's shared position and recording each claimed message
 * as pending under this member, in one write transaction committed without
 * fdatasync; acks are buffered and written with the next claim, before the
 * subscription sleeps, or at close. A queue member's record in the store says
 * whether it waits, with its unacked count and last claim, for the rule.
 * The claim transaction is what makes queue members in different processes
 * see each message exactly once; losing a claim or an ack in a crash can
 * only cause a redelivery.
 *
 * Waiting: the subscription's waiter (notify.h) is woken by appends in this
 * process, by the store's inotify watcher for other processes, and by acks
 * that end a stall; streamlog_sub_next() sleeps on it until then or until
 * the next redelivery deadline. Descriptors are made only for a caller who
 * asks for the fd: an epoll set of an eventfd (mirroring the waiter) and a
 * timerfd armed for that deadline; until then a subscription holds none,
 * so a process can hold many thousands. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "append.h"
#include "channels.h"
#include "chanrec.h"
#include "clock.h"
#include "errors.h"
#include "groups.h"
#include "inflight.h"
#include "notify.h"
#include "process.h"
#include "reader.h"
#include "retention.h"
#include "store.h"
#include "subs.h"
#include "write.h"

#define DEFAULT_MAX_INFLIGHT 1024
#define DEFAULT_ACK_WAIT_MS 30000
#define CLAIM_BATCH_DURABLE 256   /* a lone durable claims generously */
#define CLAIM_BATCH_QUEUE 16      /* a queue member while no other member waits */
#define SHARED_SCAN_MIN_NS (20 * 1000000LL) /* rescan a group's messages at most this often when woken */
#define SHARED_SCAN_TAKE 64       /* others' messages taken per scan */

/* try_deliver's internal "look again" */
#define RETRY 1

/* Where a subscription's new messages come from, and what of its delivery
 * state outlives it. The delivery core (try_deliver, redeliver, dead_letter,
 * acks, the fd) is the same for every kind and asks its source:
 *   iterator source (plain): new messages straight from the channel; the
 *     state lives in memory only.
 *   claims source (durable, queue group): new messages are claimed in the
 *     store; a redelivery or dead letter first confirms there that the
 *     message is still this member's; acks are written there. */
struct sl_source {
    /* Make [next_seq, ...) deliverable for up to `capacity` new messages:
     * OK, EAGAIN (nothing new, or stalled), or an error. */
    int (*take_new)(streamlog_sub *sub, uint64_t capacity);
    /* The iterator, positioned at next_seq, answered `rc` with message `seq`:
     * OK to deliver it, RETRY to look again, or rc. */
    int (*found)(streamlog_sub *sub, int rc, uint64_t seq);
    /* Is seq, in flight here, still this subscription's? If so its stored
     * state gets `deliveries` and the Unix-ns `deadline`. */
    int (*confirm)(streamlog_sub *sub, uint64_t seq, uint32_t deliveries, int64_t deadline, int *owned);
    /* seq left the in-flight set for good (acked, dead-lettered, removed);
     * under sub->mu. Returns 1 when the fd should be woken. */
    int (*settled)(streamlog_sub *sub, uint64_t seq);
    /* Write what is buffered, before sleeping. */
    int (*flush)(streamlog_sub *sub);
};

static const struct sl_source iterator_source, claims_source;

struct streamlog_sub {
    streamlog_channel ch;        /* copy of the channel handle it was opened on */
    const struct sl_source *src;
    pthread_mutex_t mu;          /* inflight, acks and counters: acks come from any thread */
    uint32_t max_inflight;
    int64_t ack_wait_ns;
    int ack_mode;
    uint32_t max_deliver;
    streamlog_channel *dead_letter;

    int grouped, durable, queue;
    uint64_t group_id, member_id;
    uint8_t group_key[SL_GROUP_KEY_MAX];
    size_t group_klen;

    streamlog_iter *it;          /* reads new messages in order */
    uint64_t next_seq;           /* next new message; grouped: next of the claimed range */
    uint64_t claim_end;          /* grouped: [next_seq, claim_end) claimed, not yet delivered */
    sl_inflight_set inflight;
    uint64_t *acks;              /* grouped: acked, not yet written */
    size_t nacks, acks_cap;
    uint64_t auto_ack;           /* AUTO: the message to ack at the next call */

    sl_member_rec rec;           /* queue: this member's record as last written */
    int scan_wanted;             /* queue: woken, others' messages may be waiting */
    int64_t last_scan;           /* queue: monotonic ns of the last scan */
    int64_t shared_deadline;     /* queue: monotonic ns when another member's message comes due */

    sl_txn view_txn;             /* holds a redelivered message's view */
    int view_txn_active;
    streamlog_msg view;

    struct sl_waiter waiter;
    int64_t timer_at;            /* CLOCK_MONOTONIC ns (real, not stepped) when something may come due */
    int epfd, evfd, tfd;         /* -1 until streamlog_sub_fd(); set under mu */

    uint64_t last_delivered, delivered, redelivered, acked, dead_lettered;
};

/* Clocks. A subscription's own deadlines are CLOCK_MONOTONIC ns (mono_ns),
 * so that a step of the wall clock does not fire or delay them; deadlines in
 * the store are Unix ns (unix_ns), the one clock all processes share. Tests
 * about deadlines step both with sl_subs_clock_step() instead of sleeping. */
static _Atomic int64_t clock_step_ns;

void sl_subs_clock_step(int64_t ns)
{
    atomic_fetch_add(&clock_step_ns, ns);
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + atomic_load_explicit(&clock_step_ns, memory_order_relaxed);
}

static int64_t unix_ns(void)
{
    return sl_now_ns() + atomic_load_explicit(&clock_step_ns, memory_order_relaxed);
}

static int group_name_check(const char *name, const char *what)
{
    size_t n = strlen(name);
    if (n == 0 || n > SL_GROUP_NAME_MAX)
        return sl_fail(STREAMLOG_EINVAL, "%s must be 1 to %d bytes", what, SL_GROUP_NAME_MAX);
    if (strchr(name, ':'))
        return sl_fail(STREAMLOG_EINVAL, "%s '%s' contains ':'", what, name);
    return STREAMLOG_OK;
}

/* ---- acks ---- */

/* Under sub->mu. */
static int push_ack(streamlog_sub *sub, uint64_t seq)
{
    if (sub->nacks == sub->acks_cap) {
        size_t cap = sub->acks_cap ? sub->acks_cap * 2 : 256;
        uint64_t *a = sl_malloc(cap * sizeof *a);
        if (!a)
            return sl_fail(STREAMLOG_ENOMEM, "out of memory buffering acks");
        if (sub->nacks)
            memcpy(a, sub->acks, sub->nacks * sizeof *a);
        sl_free(sub->acks);
        sub->acks = a;
        sub->acks_cap = cap;
    }
    sub->acks[sub->nacks++] = seq;
    return STREAMLOG_OK;
}

/* Grouped: a message this member will not deliver (removed, expired): its
 * pending record goes with the acks. */
static void forget_range(streamlog_sub *sub, uint64_t from, uint64_t to)
{
    pthread_mutex_lock(&sub->mu);
    for (uint64_t s = from; s < to; s++)
        if (push_ack(sub, s))
            break; /* the record stays: it will be found and dropped later */
    pthread_mutex_unlock(&sub->mu);
}

/* Write the buffered acks in transaction t (their pending records go). */
static int write_acks(streamlog_sub *sub, sl_txn *t)
{
    pthread_mutex_lock(&sub->mu);
    uint64_t *acks = sub->acks;
    size_t n = sub->nacks;
    sub->acks = NULL;
    sub->nacks = sub->acks_cap = 0;
    pthread_mutex_unlock(&sub->mu);
    int rc = STREAMLOG_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        rc = sl_pending_del(t, sub->group_id, acks[i]);
        if (rc == STREAMLOG_ENOTFOUND)
            rc = STREAMLOG_OK;
    }
    sl_free(acks);
    return rc;
}

static int acks_work(sl_txn *t, void *sub)
{
    return write_acks(sub, t);
}

static int flush_acks(streamlog_sub *sub)
{
    pthread_mutex_lock(&sub->mu);
    size_t n = sub->nacks;
    pthread_mutex_unlock(&sub->mu);
    return n ? sl_store_write(sub->ch.st, 1, acks_work, sub) : STREAMLOG_OK;
}

int sl_sub_ack(streamlog_sub *sub, uint64_t seq)
{
    pthread_mutex_lock(&sub->mu);
    size_t before = sub->inflight.len;
    if (sl_inflight_del(&sub->inflight, seq)) {
        sub->acked++;
        int wake = before >= sub->max_inflight; /* this ack ends a stall */
        wake |= sub->src->settled(sub, seq);
        if (wake)
            sl_waiter_wake(&sub->waiter);
    }
    pthread_mutex_unlock(&sub->mu);
    return STREAMLOG_OK;
}

/* ---- nak, progress, term ---- */

static int not_in_flight(uint64_t seq)
{
    return sl_fail(STREAMLOG_ENOTFOUND, "message %llu is not in flight on this subscription",
                   (unsigned long long)seq);
}

/* In-flight entry of seq under sub->mu: its delivery count, or ENOTFOUND. */
static int inflight_deliveries(streamlog_sub *sub, uint64_t seq, uint32_t *deliveries)
{
    pthread_mutex_lock(&sub->mu);
    sl_inflight *e = sl_inflight_find(&sub->inflight, seq);
    if (e)
        *deliveries = e->deliveries;
    pthread_mutex_unlock(&sub->mu);
    return e ? STREAMLOG_OK : not_in_flight(seq);
}

static int claim_own(streamlog_sub *sub, uint64_t seq, uint32_t deliveries, int64_t deadline, int *owned);
static void drop_foreign(streamlog_sub *sub, uint64_t seq);
static int dead_letter(streamlog_sub *sub, uint64_t seq, uint32_t deliveries, const char *reason, int *gone);

/* Give seq, in flight here, a new redelivery deadline `delay_ns` from now.
 * Queue: also in the store, where the deadline says when another member may
 * take the message over. */
static int set_deadline(streamlog_sub *sub, uint64_t seq, uint32_t deliveries, int64_t delay_ns)
{
    int rc;
    if (sub->queue) {
        int owned;
        if ((rc = claim_own(sub, seq, deliveries, unix_ns() + delay_ns, &owned)))
            return rc;
        if (!owned) { /* another member took it over already */
            drop_foreign(sub, seq);
            return not_in_flight(seq);
        }
    }
    pthread_mutex_lock(&sub->mu);
    sl_inflight *e = sl_inflight_find(&sub->inflight, seq);
    rc = e ? sl_inflight_put(&sub->inflight, seq, e->deliveries, mono_ns() + delay_ns) : not_in_flight(seq);
    pthread_mutex_unlock(&sub->mu);
    return rc;
}

int sl_sub_nak(streamlog_sub *sub, uint64_t seq, int64_t delay_ms)
{
    uint32_t deliveries = 0;
    int rc = inflight_deliveries(sub, seq, &deliveries);
    if (rc || (rc = set_deadline(sub, seq, deliveries, delay_ms * 1000000)))
        return rc;
    sl_waiter_wake(&sub->waiter); /* streamlog_sub_next() looks again and re-arms its timer */
    if (sub->queue) /* members of this process look at the group's deadlines again */
        sl_notify_channel(&sub->ch.st->notifier, sub->ch.id);
    return STREAMLOG_OK;
}

int sl_sub_progress(streamlog_sub *sub, uint64_t seq)
{
    uint32_t deliveries = 0;
    int rc = inflight_deliveries(sub, seq, &deliveries);
    return rc ? rc : set_deadline(sub, seq, deliveries, sub->ack_wait_ns);
}

int sl_sub_term(streamlog_sub *sub, uint64_t seq)
{
    uint32_t deliveries = 0;
    int rc = inflight_deliveries(sub, seq, &deliveries);
    if (rc)
        return rc;
    int gone;
    if ((rc = dead_letter(sub, seq, deliveries, "term", &gone)))
        return rc;
    if (!gone)
        return not_in_flight(seq); /* acked meanwhile, or another member owns it now */
    sl_waiter_wake(&sub->waiter); /* may end a stall */
    return STREAMLOG_OK;
}

/* ---- subscribe ---- */

static uint64_t effective_capacity(streamlog_sub *sub, size_t inflight_len)
{
    if (sub->ack_mode == STREAMLOG_ACK_NONE)
        return UINT64_MAX;
    return inflight_len >= sub->max_inflight ? 0 : sub->max_inflight - inflight_len;
}

/* A resumed durable takes over its group's pending messages, due at once. */
static int take_over_pending(streamlog_sub *sub, sl_txn *t)
{
    sl_cursor *c;
    int rc = sl_cursor_open(t, SL_DB_PENDING, &c);
    if (rc)
        return rc;
    uint64_t seq;
    sl_pending_rec p;
    int64_t now = mono_ns();
    for (rc = sl_pending_seek(c, sub->group_id, 0, &seq, &p); rc == STREAMLOG_OK;
         rc = sl_pending_next(c, sub->group_id, &seq, &p)) {
        if ((rc = sl_inflight_put(&sub->inflight, seq, p.deliveries, now)))
            break;
    }
    sl_cursor_close(c);
    if (rc != STREAMLOG_ENOTFOUND)
        return rc;
    rc = STREAMLOG_OK;
    for (size_t i = 0; i < sub->inflight.cap && !rc; i++) {
        const sl_inflight *e = &sub->inflight.slots[i];
        if (e->seq)
            rc = sl_pending_save(t, sub->group_id, e->seq,
                                 &(sl_pending_rec){.owner = sub->member_id, .deliveries = e->deliveries, .deadline = 0});
    }
    return rc;
}

/* A pseudo-random but reproducible spread of x (splitmix64's finaliser). */
static uint64_t spread(uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

struct register_write {
    streamlog_sub *sub;
    int start;
    int64_t start_value;
    const char *durable, *queue;
};

static int register_work(sl_txn *t, void *ctx)
{
    struct register_write *w = ctx;
    streamlog_sub *sub = w->sub;
    streamlog_store *st = sub->ch.st;
    int start = w->start;
    int64_t start_value = w->start_value;
    const char *durable = w->durable, *queue = w->queue;
    sl_chan_rec rec;
    sl_limits lim;
    uint64_t live, unused;
    int rc;
    if ((rc = sl_chan_load_handle(t, &sub->ch, &rec)) ||
        (rc = sl_meta_next(t, SL_META_NEXT_MEMBER_ID, &sub->member_id)))
        return rc;
    sl_chan_limits(st, &rec, &lim);
    if (lim.max_subs > 0) { /* the count needs every member: one walk, reaping on the way */
        if ((rc = sl_members_reap(t, rec.id, 0, &live, &unused)))
            return rc;
        if (live >= (uint64_t)lim.max_subs) {
            rc = sl_fail(STREAMLOG_ELIMIT, "channel '%s' already has %llu subscription(s) (max_subs)", sub->ch.name,
                         (unsigned long long)live);
            return rc;
        }
    } else if ((rc = sl_members_reap_some(t, rec.id, spread(sub->member_id) % (sub->member_id + 1)))) {
        return rc; /* without a limit, a window of members: the cost does not grow with the channel */
    }
    if (sub->grouped) {
        char kind = queue ? (durable ? SL_GROUP_DURABLE_QUEUE : SL_GROUP_QUEUE) : SL_GROUP_DURABLE;
        sub->group_klen = sl_group_key(sub->group_key, rec.id, kind, queue ? queue : durable, queue ? durable : NULL);
        sl_group_rec g;
        rc = sl_group_load(t, sub->group_key, sub->group_klen, &g);
        if (rc == STREAMLOG_ENOTFOUND) {
            /* a new group starts where its first member asks */
            if ((rc = sl_meta_next(t, SL_META_NEXT_GROUP_ID, &g.id)) ||
                (rc = sl_resolve_start(t, &sub->ch, start, start_value, &g.next_seq)) ||
                (rc = sl_group_save(t, sub->group_key, sub->group_klen, &g)))
                return rc;
        } else if (rc) {
            return rc;
        } else if (!queue) {
            /* resuming a durable: one active subscription at a time */
            uint64_t active;
            if ((rc = sl_members_count(t, rec.id, g.id, &active)))
                return rc;
            if (active) {
                rc = sl_fail(STREAMLOG_EEXIST, "durable '%s' on channel '%s' is already active", durable,
                             sub->ch.name);
                return rc;
            }
            sub->group_id = g.id;
            if ((rc = take_over_pending(sub, t)))
                return rc;
        }
        sub->group_id = g.id;
        sub->next_seq = sub->claim_end = g.next_seq;
    } else if ((rc = sl_resolve_start(t, &sub->ch, start, start_value, &sub->next_seq))) {
        return rc;
    }
    sl_member_rec m = {.group_id = sub->group_id};
    sl_process_identity(&m.pid, &m.start_ticks);
    if ((rc = sl_member_save(t, rec.id, sub->member_id, &m)))
        return rc;
    sub->rec = m;
    return STREAMLOG_OK;
}

/* Register this subscription in the store, in one write transaction.
 * Relaxed (as claims): a member record matters only while its process
 * lives, and a new group lost to an OS crash is created again at the same
 * start by the next subscribe -- unless a later synced commit (any append
 * under SYNC_ALWAYS) kept it, so no message stored since can be skipped; at
 * worst messages are delivered again. */
static int register_member(streamlog_sub *sub, int start, int64_t start_value, const char *durable,
                           const char *queue)
{
    struct register_write w = {sub, start, start_value, durable, queue};
    return sl_store_write(sub->ch.st, 1, register_work, &w);
}

static void set_timerfd(streamlog_sub *sub);

static int fds_error(const char *what)
{
    int e = errno;
    int rc = e == EMFILE || e == ENFILE ? STREAMLOG_EMFILE : e == ENOMEM ? STREAMLOG_ENOMEM : STREAMLOG_EIO;
    return sl_fail(rc, "cannot create the subscription's fd (%s): %s", what, strerror(e));
}

/* Under sub->mu: the fd's epoll set, its eventfd and timerfd. */
static int make_fds(streamlog_sub *sub)
{
    int evfd = -1, tfd = -1, epfd = -1, rc = STREAMLOG_OK;
    struct epoll_event ev = {.events = EPOLLIN};
    if ((evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        rc = fds_error("eventfd");
    else if ((tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0)
        rc = fds_error("timerfd");
    else if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        rc = fds_error("epoll");
    else if ((ev.data.fd = evfd, epoll_ctl(epfd, EPOLL_CTL_ADD, evfd, &ev)) ||
             (ev.data.fd = tfd, epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &ev)))
        rc = fds_error("epoll_ctl");
    if (rc) {
        if (epfd >= 0)
            close(epfd);
        if (tfd >= 0)
            close(tfd);
        if (evfd >= 0)
            close(evfd);
        return rc;
    }
    sub->evfd = evfd;
    sub->tfd = tfd;
    sub->epfd = epfd;
    set_timerfd(sub);
    sl_waiter_attach_fd(&sub->waiter, evfd); /* readable at once when a wake-up is pending */
    return STREAMLOG_OK;
}

static void free_sub(streamlog_sub *sub)
{
    if (sub->view_txn_active)
        sl_read_end(&sub->view_txn);
    if (sub->it)
        sl_iter_close(sub->it);
    if (sub->dead_letter)
        sl_channel_close(sub->dead_letter);
    if (sub->epfd >= 0)
        close(sub->epfd);
    if (sub->evfd >= 0)
        close(sub->evfd);
    if (sub->tfd >= 0)
        close(sub->tfd);
    sl_inflight_free(&sub->inflight);
    sl_free(sub->acks);
    sl_waiter_destroy(&sub->waiter);
    pthread_mutex_destroy(&sub->mu);
    sl_free(sub);
}

static int unregister_member(streamlog_sub *sub, int unsubscribe);

int sl_subscribe(streamlog_channel *ch, const streamlog_opts *opts, streamlog_sub **out)
{
    streamlog_store *st = ch->st;
    int start = (int)sl_opts_int(opts, STREAMLOG_OPT_START, STREAMLOG_START_NEW_ONLY);
    int64_t start_value = sl_opts_int(opts, STREAMLOG_OPT_START_VALUE, 0);
    const char *durable = sl_opts_str(opts, STREAMLOG_OPT_DURABLE);
    const char *queue = sl_opts_str(opts, STREAMLOG_OPT_QUEUE);
    const char *dead_letter = sl_opts_str(opts, STREAMLOG_OPT_DEAD_LETTER);
    int rc;
    if ((durable && (rc = group_name_check(durable, "durable name"))) ||
        (queue && (rc = group_name_check(queue, "queue name"))))
        return rc;
    if (dead_letter) {
        if ((rc = sl_channel_name_check(dead_letter)))
            return rc;
        if (strcmp(dead_letter, ch->name) == 0)
            return sl_fail(STREAMLOG_EINVAL, "the dead-letter channel cannot be the channel itself");
    }

    streamlog_sub *sub = sl_calloc(1, sizeof *sub);
    if (!sub)
        return sl_fail(STREAMLOG_ENOMEM, "out of memory subscribing");
    sub->ch = *ch;
    pthread_mutex_init(&sub->mu, NULL);
    sl_waiter_init(&sub->waiter, ch->id); /* woken: stored messages may be deliverable already */
    sl_inflight_init(&sub->inflight);
    sub->epfd = sub->evfd = sub->tfd = -1;
    sub->timer_at = INT64_MAX;
    sub->max_inflight = (uint32_t)sl_opts_int(opts, STREAMLOG_OPT_MAX_INFLIGHT, DEFAULT_MAX_INFLIGHT);
    sub->ack_wait_ns = sl_opts_int(opts, STREAMLOG_OPT_ACK_WAIT_MS, DEFAULT_ACK_WAIT_MS) * 1000000;
    sub->ack_mode = (int)sl_opts_int(opts, STREAMLOG_OPT_ACK_MODE, STREAMLOG_ACK_MANUAL);
    sub->max_deliver = (uint32_t)sl_opts_int(opts, STREAMLOG_OPT_MAX_DELIVER, 0);
    sub->grouped = durable || queue;
    sub->src = sub->grouped ? &claims_source : &iterator_source;
    sub->durable = durable != NULL;
    sub->queue = queue != NULL;
    sub->shared_deadline = INT64_MAX;
    sub->scan_wanted = 1;

    if ((rc = register_member(sub, start, start_value, durable, queue)))
        goto fail;
    /* the dead-letter channel is created only once the subscription stands */
    if ((dead_letter && (rc = sl_channel_open(st, dead_letter, STREAMLOG_CREATE, NULL, &sub->dead_letter))) ||
        (rc = sl_iter_open(ch, STREAMLOG_START_FIRST, 0, &sub->it)) ||
        (rc = sl_notify_add(&st->notifier, &sub->waiter))) {
        unregister_member(sub, 0);
        goto fail;
    }
    sl_iter_seek(sub->it, sub->next_seq);
    atomic_fetch_add(&st->children, 1);
    *out = sub;
    return STREAMLOG_OK;
fail:
    free_sub(sub);
    return rc;
}

/* ---- delivery ---- */

static void release_view(streamlog_sub *sub)
{
    if (sub->view_txn_active) {
        sl_read_end(&sub->view_txn);
        sub->view_txn_active = 0;
    }
}

/* Grouped: confirm in the store that this member still owns seq (another
 * member may have taken it once its ack wait ran out) and, when it does,
 * give its pending record `deliveries` and `deadline` (Unix ns). */
struct claim_own_write {
    streamlog_sub *sub;
    uint64_t seq;
    uint32_t deliveries;
    int64_t deadline;
    int *owned;
};

static int claim_own_work(sl_txn *t, void *ctx)
{
    struct claim_own_write *w = ctx;
    streamlog_sub *sub = w->sub;
    sl_pending_rec p = {0};
    int rc = write_acks(sub, t);
    if (!rc)
        rc = sl_pending_load(t, sub->group_id, w->seq, &p);
    *w->owned = rc == STREAMLOG_OK && p.owner == sub->member_id;
    if (rc == STREAMLOG_ENOTFOUND)
        rc = STREAMLOG_OK;
    if (!rc && *w->owned) {
        p.deliveries = w->deliveries;
        p.deadline = w->deadline;
        rc = sl_pending_save(t, sub->group_id, w->seq, &p);
    }
    return rc;
}

static int claim_own(streamlog_sub *sub, uint64_t seq, uint32_t deliveries, int64_t deadline, int *owned)
{
    struct claim_own_write w = {sub, seq, deliveries, deadline, owned};
    *owned = 0;
    return sl_store_write(sub->ch.st, 1, claim_own_work, &w);
}

/* Forget an in-flight message another member owns now. */
static void drop_foreign(streamlog_sub *sub, uint64_t seq)
{
    pthread_mutex_lock(&sub->mu);
    sl_inflight_del(&sub->inflight, seq);
    pthread_mutex_unlock(&sub->mu);
}

/* A message that reached MAX_DELIVER: to the dead-letter channel, then acked.
 * Grouped: only by the member that owns it in the store, which first makes
 * its claim unexpiring (deadline INT64_MAX) so that no other member can take
 * the message over while it is being dead-lettered; the pending record goes
 * with the ack. Only a crash between the append and that ack can
 * dead-letter a message twice (the dead member's claim is taken over). */
/* The header block of a dead letter: the message's own headers, then where
 * it came from and why it stopped. Freed by the caller. */
static char *dead_letter_headers(const streamlog_sub *sub, const streamlog_msg *m, uint32_t deliveries,
                                 const char *reason, size_t *len)
{
    size_t own = m->hdrs_len ? m->hdrs_len - 2 : 0; /* without its closing empty line */
    size_t cap = own + sub->ch.name_len + 256;
    char *h = sl_malloc(cap);
    if (!h)
        return NULL;
    if (own)
        memcpy(h, m->hdrs, own);
    int n = snprintf(h + own, cap - own,
                     "%sStreamlog-Origin-Channel: %s\r\nStreamlog-Origin-Seq: %llu\r\nStreamlog-Origin-Time: %lld\r\n"
                     "Streamlog-Deliveries: %u\r\nStreamlog-Reason: %s\r\n\r\n",
                     own ? "" : "NATS/1.0\r\n", sub->ch.name, (unsigned long long)m->seq, (long long)m->time,
                     (unsigned)deliveries, reason);
    *len = own + (size_t)n;
    return h;
}

static int dead_letter(streamlog_sub *sub, uint64_t seq, uint32_t deliveries, const char *reason, int *gone)
{
    int rc;
    *gone = 0;
    int owned;
    if ((rc = sub->src->confirm(sub, seq, deliveries, INT64_MAX, &owned)))
        return rc;
    if (!owned) {
        drop_foreign(sub, seq);
        return STREAMLOG_OK;
    }
    sl_txn t;
    streamlog_msg m;
    rc = sl_read_view(&sub->ch, seq, &t, &m);
    if (rc && rc != STREAMLOG_ENOTFOUND)
        return rc;
    if (!rc) {
        if (sub->dead_letter) {
            const void *data = m.data;
            size_t len = m.len, hlen = 0;
            const void *hdrs = dead_letter_headers(sub, &m, deliveries, reason, &hlen);
            rc = hdrs ? sl_append_msgs(sub->dead_letter, &hdrs, &hlen, &data, &len, 1, 0, 0, NULL)
                      : sl_fail(STREAMLOG_ENOMEM, "out of memory dead-lettering message %llu", (unsigned long long)seq);
            sl_free((void *)hdrs);
        }
        sl_read_end(&t);
        if (rc)
            return rc; /* still in flight: tried again on the next call */
    }
    pthread_mutex_lock(&sub->mu);
    *gone = sl_inflight_del(&sub->inflight, seq);
    if (*gone)
        sub->src->settled(sub, seq);
    sub->dead_lettered += rc == STREAMLOG_OK;
    pthread_mutex_unlock(&sub->mu);
    return STREAMLOG_OK;
}

static int redeliver(streamlog_sub *sub, uint64_t seq, uint32_t deliveries, const streamlog_msg **out)
{
    int rc;
    if (sub->max_deliver && deliveries >= sub->max_deliver) {
        int gone;
        return (rc = dead_letter(sub, seq, deliveries, "max_deliver", &gone)) ? rc : RETRY;
    }
    int owned;
    if ((rc = sub->src->confirm(sub, seq, deliveries + 1, unix_ns() + sub->ack_wait_ns, &owned)))
        return rc;
    if (!owned) { /* another member took it: not ours to deliver or ack */
        drop_foreign(sub, seq);
        return RETRY;
    }
    rc = sl_read_view(&sub->ch, seq, &sub->view_txn, &sub->view);
    if (rc == STREAMLOG_ENOTFOUND) { /* removed by limits or expired while in flight */
        pthread_mutex_lock(&sub->mu);
        if (sl_inflight_del(&sub->inflight, seq))
            sub->src->settled(sub, seq);
        pthread_mutex_unlock(&sub->mu);
        return RETRY;
    }
    if (rc)
        return rc;
    sub->view_txn_active = 1;
    pthread_mutex_lock(&sub->mu);
    /* an ack from another thread may have ended it meanwhile */
    int still = sl_inflight_find(&sub->inflight, seq) != NULL;
    if (still)
        rc = sl_inflight_put(&sub->inflight, seq, deliveries + 1, mono_ns() + sub->ack_wait_ns);
    if (still && !rc) {
        sub->delivered++;
        sub->redelivered++;
    }
    pthread_mutex_unlock(&sub->mu);
    if (!still || rc) {
        release_view(sub);
        return rc ? rc : RETRY;
    }
    sub->view.redeliveries = deliveries;
    *out = &sub->view;
    return STREAMLOG_OK;
}

struct claim_shared_write {
    streamlog_sub *sub;
    const uint64_t *take;
    int ntake;
    int64_t now, real; /* monotonic and Unix ns */
    int taken;
};

static int claim_shared_work(sl_txn *t, void *ctx)
{
    struct claim_shared_write *w = ctx;
    streamlog_sub *sub = w->sub;
    sl_pending_rec p;
    w->taken = 0;
    int rc = write_acks(sub, t);
    for (int i = 0; i < w->ntake && !rc; i++) {
        rc = sl_pending_load(t, sub->group_id, w->take[i], &p);
        if (rc == STREAMLOG_ENOTFOUND) {
            rc = STREAMLOG_OK;
            continue;
        }
        if (rc)
            break;
        int claimable = p.deadline <= w->real;
        if (!claimable && p.owner != 0) {
            sl_member_rec m;
            int mrc = sl_member_load(t, sub->ch.id, p.owner, &m);
            claimable = mrc == STREAMLOG_ENOTFOUND || (mrc == STREAMLOG_OK && !sl_member_alive(&m));
        }
        if (!claimable || p.owner == sub->member_id)
            continue;
        p.owner = sub->member_id;
        p.deadline = w->real + sub->ack_wait_ns;
        if ((rc = sl_pending_save(t, sub->group_id, w->take[i], &p)))
            break;
        pthread_mutex_lock(&sub->mu);
        rc = sl_inflight_put(&sub->inflight, w->take[i], p.deliveries, w->now); /* due at once */
        pthread_mutex_unlock(&sub->mu);
        w->taken++;
    }
    return rc;
}

/* Queue groups: take messages of other members that are orphaned, whose
 * member died, or whose ack wait ran out. Returns how many were taken. */
static int claim_shared(streamlog_sub *sub)
{
    streamlog_store *st = sub->ch.st;
    int64_t now = mono_ns(), real = unix_ns();
    uint64_t take[SHARED_SCAN_TAKE];
    int ntake = 0;
    int64_t next_due = INT64_MAX; /* real ns */
    struct { uint64_t id; int alive; } owners[16];
    int nowners = 0;

    sl_txn t;
    sl_cursor *c;
    int rc = sl_read_begin(st->env, &t);
    if (rc)
        return rc;
    if ((rc = sl_cursor_open(&t, SL_DB_PENDING, &c))) {
        sl_read_end(&t);
        return rc;
    }
    uint64_t seq;
    sl_pending_rec p;
    for (rc = sl_pending_seek(c, sub->group_id, 0, &seq, &p); rc == STREAMLOG_OK && ntake < SHARED_SCAN_TAKE;
         rc = sl_pending_next(c, sub->group_id, &seq, &p)) {
        if (p.owner == sub->member_id)
            continue;
        /* an orphan's deadline is when it may be redelivered (a nak's delay) */
        int claimable = p.deadline <= real;
        if (!claimable && p.owner != 0) {
            int alive = -1;
            for (int i = 0; i < nowners; i++)
                if (owners[i].id == p.owner)
                    alive = owners[i].alive;
            if (alive < 0) {
                sl_member_rec m;
                int mrc = sl_member_load(&t, sub->ch.id, p.owner, &m);
                alive = mrc == STREAMLOG_OK ? sl_member_alive(&m) : mrc == STREAMLOG_ENOTFOUND ? 0 : 1;
                if (nowners < 16)
                    owners[nowners].id = p.owner, owners[nowners++].alive = alive;
            }
            claimable = !alive;
        }
        if (claimable)
            take[ntake++] = seq;
        else if (p.deadline < next_due)
            next_due = p.deadline;
    }
    sl_cursor_close(c);
    sl_read_end(&t);
    if (rc != STREAMLOG_OK && rc != STREAMLOG_ENOTFOUND)
        return rc;

    sub->scan_wanted = ntake == SHARED_SCAN_TAKE; /* more may wait */
    sub->last_scan = now;
    sub->shared_deadline = next_due == INT64_MAX ? INT64_MAX : now + (next_due - real);
    if (!ntake)
        return 0;

    /* claim them, checking again under the write lock */
    struct claim_shared_write w = {sub, take, ntake, now, real, 0};
    rc = sl_store_write(st, 1, claim_shared_work, &w);
    return rc ? rc : w.taken;
}

/* Queue: write this member's record when `want` differs from it. */
static int save_member(streamlog_sub *sub, sl_txn *t, const sl_member_rec *want)
{
    const sl_member_rec *had = &sub->rec;
    if (want->waiting == had->waiting && want->unacked == had->unacked && want->last_claim == had->last_claim)
        return STREAMLOG_OK;
    int rc = sl_member_save(t, sub->ch.id, sub->member_id, want);
    if (!rc)
        sub->rec = *want;
    return rc;
}

/* Queue: stop counting as waiting (timed out, stalled); best effort, as a
 * member wrongly seen waiting only delays the others until it asks again. */
static int stop_waiting_work(sl_txn *t, void *ctx)
{
    streamlog_sub *sub = ctx;
    sl_member_rec want = sub->rec;
    want.waiting = 0;
    int rc = save_member(sub, t, &want);
    return rc ? rc : write_acks(sub, t);
}

static void stop_waiting(streamlog_sub *sub)
{
    if (!sub->queue || !sub->rec.waiting)
        return;
    sl_member_rec before = sub->rec;
    if (sl_store_write(sub->ch.st, 1, stop_waiting_work, sub))
        sub->rec = before;
}

/* Grouped: claim the next new messages for this member. EAGAIN when none.
 * A durable claims a batch. A queue member claims one message, and only
 * when the delivery rule gives it the next one (sl_queue_turn); otherwise it
 * records itself as waiting and the member whose turn it is takes it. */
struct claim_new_write {
    streamlog_sub *sub;
    uint64_t capacity;
    uint64_t from, k; /* out: claimed sequences from..from+k-1 */
    int others_waiting;
};

static int claim_new_work(sl_txn *t, void *ctx)
{
    struct claim_new_write *w = ctx;
    streamlog_sub *sub = w->sub;
    sl_chan_rec rec;
    sl_group_rec g;
    int rc;
    w->k = 0;
    w->others_waiting = 0;
    if ((rc = write_acks(sub, t)) || (rc = sl_chan_load_handle(t, &sub->ch, &rec)))
        return rc;
    rc = sl_group_load(t, sub->group_key, sub->group_klen, &g);
    if (rc == STREAMLOG_ENOTFOUND)
        rc = sl_fail(STREAMLOG_ECLOSED, "the subscription's group state is gone");
    if (rc)
        return rc;
    uint64_t from = g.next_seq > rec.first_seq ? g.next_seq : rec.first_seq;
    uint64_t k = 0;
    if (from <= rec.last_seq) {
        k = rec.last_seq - from + 1;
        uint64_t batch = sub->queue ? CLAIM_BATCH_QUEUE : CLAIM_BATCH_DURABLE;
        if (k > batch)
            k = batch;
        if (k > w->capacity)
            k = w->capacity;
    }
    if (sub->queue) {
        sl_member_rec me = sub->rec;
        pthread_mutex_lock(&sub->mu);
        me.unacked = sub->inflight.len > UINT32_MAX ? UINT32_MAX : (uint32_t)sub->inflight.len;
        pthread_mutex_unlock(&sub->mu);
        me.waiting = 1;
        int turn = 1;
        if (k && (rc = sl_queue_turn(t, sub->ch.id, sub->member_id, &me, &turn, &w->others_waiting)))
            return rc;
        if (k && turn) {
            /* a batch is only for a member alone (see yield_claims), and
             * not without acks: a batch that cannot be rewound is handed
             * back as pending records, which ACK_NONE does not keep */
            if (w->others_waiting || sub->ack_mode == STREAMLOG_ACK_NONE)
                k = 1;
            me.waiting = 0;
            if (sub->ack_mode != STREAMLOG_ACK_NONE)
                me.unacked += (uint32_t)k;
            me.last_claim = from + k - 1;
        } else {
            k = 0; /* nothing new, or another waiting member comes first */
        }
        if ((rc = save_member(sub, t, &me)))
            return rc;
    }
    if (k) {
        sl_pending_rec p = {.owner = sub->member_id, .deliveries = 1, .deadline = unix_ns() + sub->ack_wait_ns};
        for (uint64_t s = from; s < from + k && !rc && sub->ack_mode != STREAMLOG_ACK_NONE; s++)
            rc = sl_pending_save(t, sub->group_id, s, &p);
        g.next_seq = from + k;
        if (rc || (rc = sl_group_save(t, sub->group_key, sub->group_klen, &g)))
            return rc;
    }
    w->from = from;
    w->k = k;
    return STREAMLOG_OK;
}

static int claim_new(streamlog_sub *sub, uint64_t capacity)
{
    streamlog_store *st = sub->ch.st;
    sl_member_rec before = sub->rec;
    struct claim_new_write w = {.sub = sub, .capacity = capacity};
    int rc = sl_store_write(st, 1, claim_new_work, &w);
    if (rc) {
        sub->rec = before;
        return rc;
    }
    /* members of this process whose turn may have come are asleep: wake
     * them (other processes see the commit through their watcher) */
    if (w.others_waiting)
        sl_notify_channel(&st->notifier, sub->ch.id);
    if (!w.k)
        return STREAMLOG_EAGAIN;
    sub->next_seq = w.from;
    sub->claim_end = w.from + w.k;
    return STREAMLOG_OK;
}

static int return_undelivered(streamlog_sub *sub, sl_txn *t);

/* Queue: a member holding claimed, undelivered new messages (a batch taken
 * while it was alone) gives them back as soon as another member waits. The
 * look is a read transaction; giving back is rare. */
static int yield_work(sl_txn *t, void *ctx)
{
    streamlog_sub *sub = ctx;
    int rc = write_acks(sub, t);
    return rc ? rc : return_undelivered(sub, t);
}

static int yield_claims(streamlog_sub *sub)
{
    streamlog_store *st = sub->ch.st;
    sl_txn t;
    int turn, others_waiting;
    int rc = sl_read_begin(st->env, &t);
    if (rc)
        return rc;
    rc = sl_queue_turn(&t, sub->ch.id, sub->member_id, &sub->rec, &turn, &others_waiting);
    sl_read_end(&t);
    if (rc || !others_waiting)
        return rc;
    if ((rc = sl_store_write(st, 1, yield_work, sub)))
        return rc;
    sub->claim_end = sub->next_seq; /* rewound, or orphaned for the others to take */
    sl_notify_channel(&st->notifier, sub->ch.id);
    return STREAMLOG_OK;
}

/* ---- the two sources ---- */

static int iter_take_new(streamlog_sub *sub, uint64_t capacity)
{
    (void)sub;
    return capacity ? STREAMLOG_OK : STREAMLOG_EAGAIN; /* EAGAIN: stalled */
}

static int iter_found(streamlog_sub *sub, int rc, uint64_t seq)
{
    (void)sub;
    (void)seq;
    return rc;
}

static int iter_confirm(streamlog_sub *sub, uint64_t seq, uint32_t deliveries, int64_t deadline, int *owned)
{
    (void)sub;
    (void)seq;
    (void)deliveries;
    (void)deadline;
    *owned = 1;
    return STREAMLOG_OK;
}

static int iter_settled(streamlog_sub *sub, uint64_t seq)
{
    (void)sub;
    (void)seq;
    return 0;
}

static int iter_flush(streamlog_sub *sub)
{
    (void)sub;
    return STREAMLOG_OK;
}

static const struct sl_source iterator_source = {iter_take_new, iter_found, iter_confirm, iter_settled, iter_flush};

static int claims_take_new(streamlog_sub *sub, uint64_t capacity)
{
    int rc;
    if (sub->queue && sub->next_seq < sub->claim_end && (rc = yield_claims(sub)))
        return rc;
    if (sub->next_seq < sub->claim_end)
        return capacity ? STREAMLOG_OK : STREAMLOG_EAGAIN;
    if (!capacity) {
        stop_waiting(sub); /* a stalled member cannot take its turn */
        return STREAMLOG_EAGAIN;
    }
    return claim_new(sub, capacity);
}

static int claims_found(streamlog_sub *sub, int rc, uint64_t seq)
{
    if (rc == STREAMLOG_EAGAIN) {
        /* what we claimed is gone (limits, expiry): drop the claims */
        forget_range(sub, sub->next_seq, sub->claim_end);
        sub->next_seq = sub->claim_end;
        return RETRY;
    }
    if (rc)
        return rc;
    forget_range(sub, sub->next_seq, seq < sub->claim_end ? seq : sub->claim_end);
    if (seq >= sub->claim_end) { /* read past our claims: not ours */
        sub->next_seq = sub->claim_end;
        sl_iter_seek(sub->it, sub->claim_end);
        return RETRY;
    }
    return STREAMLOG_OK;
}

/* The first buffered ack makes the fd readable, so that an event loop's next
 * streamlog_sub_next() writes the acks soon, not only at the next delivery.
 * When buffering fails the pending record stays: a redelivery, never a loss. */
static int claims_settled(streamlog_sub *sub, uint64_t seq)
{
    int first = sub->nacks == 0;
    push_ack(sub, seq);
    return first;
}

static const struct sl_source claims_source = {claims_take_new, claims_found, claim_own, claims_settled, flush_acks};

/* ---- delivery ---- */

static int deliver_new(streamlog_sub *sub, uint64_t capacity, int64_t now, const streamlog_msg **out)
{
    int rc = sub->src->take_new(sub, capacity);
    if (rc)
        return rc;
    if (sl_iter_position(sub->it) != sub->next_seq)
        sl_iter_seek(sub->it, sub->next_seq);
    const streamlog_msg *m = NULL;
    rc = sl_iter_next(sub->it, &m);
    if ((rc = sub->src->found(sub, rc, rc ? 0 : m->seq)))
        return rc;
    uint64_t seq = m->seq;
    sub->next_seq = seq + 1;
    pthread_mutex_lock(&sub->mu);
    if (sub->ack_mode != STREAMLOG_ACK_NONE)
        rc = sl_inflight_put(&sub->inflight, seq, 1, now + sub->ack_wait_ns);
    if (!rc) {
        sub->delivered++;
        sub->last_delivered = seq;
    }
    pthread_mutex_unlock(&sub->mu);
    if (rc)
        return rc;
    sub->view = *m;
    sub->view.redeliveries = 0;
    *out = &sub->view;
    return STREAMLOG_OK;
}

static int try_deliver(streamlog_sub *sub, const streamlog_msg **out)
{
    for (;;) {
        int rc;
        int64_t now = mono_ns();
        uint64_t due = 0, capacity;
        uint32_t deliveries = 0;
        pthread_mutex_lock(&sub->mu);
        if (sub->ack_mode != STREAMLOG_ACK_NONE) {
            due = sl_inflight_due(&sub->inflight, now);
            if (due)
                deliveries = sl_inflight_find(&sub->inflight, due)->deliveries;
        }
        capacity = effective_capacity(sub, sub->inflight.len);
        pthread_mutex_unlock(&sub->mu);
        if (due) {
            rc = redeliver(sub, due, deliveries, out);
            if (rc == RETRY)
                continue;
            return rc;
        }
        if (sub->queue && sub->ack_mode != STREAMLOG_ACK_NONE &&
            ((sub->scan_wanted && now - sub->last_scan >= SHARED_SCAN_MIN_NS) || now >= sub->shared_deadline)) {
            rc = claim_shared(sub);
            if (rc < 0)
                return rc;
            if (rc > 0)
                continue;
        }
        rc = deliver_new(sub, capacity, now, out);
        if (rc == RETRY)
            continue;
        return rc;
    }
}

static void drain_fds(streamlog_sub *sub)
{
    if (sl_waiter_consume(&sub->waiter))
        sub->scan_wanted = 1;
    pthread_mutex_lock(&sub->mu);
    int tfd = sub->tfd;
    pthread_mutex_unlock(&sub->mu);
    uint64_t v;
    if (tfd >= 0)
        while (read(tfd, &v, sizeof v) > 0)
            ;
}

/* Under sub->mu: arm the timerfd, when there is one, for timer_at. */
static void set_timerfd(streamlog_sub *sub)
{
    if (sub->tfd < 0)
        return;
    struct itimerspec its = {0};
    if (sub->timer_at != INT64_MAX) {
        its.it_value.tv_sec = sub->timer_at / 1000000000;
        its.it_value.tv_nsec = sub->timer_at % 1000000000;
    }
    timerfd_settime(sub->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Set the timer for the earliest moment something may come due. */
static void arm_timer(streamlog_sub *sub)
{
    pthread_mutex_lock(&sub->mu);
    int64_t at = sub->inflight.len ? sub->inflight.min_deadline : INT64_MAX;
    if (sub->queue) {
        if (sub->shared_deadline < at)
            at = sub->shared_deadline;
        if (sub->scan_wanted && sub->last_scan + SHARED_SCAN_MIN_NS < at)
            at = sub->last_scan + SHARED_SCAN_MIN_NS;
    }
    if (at != INT64_MAX) {
        at -= atomic_load_explicit(&clock_step_ns, memory_order_relaxed); /* the timer runs on the real clock */
        if (at <= 0)
            at = 1;
    }
    sub->timer_at = at;
    set_timerfd(sub);
    pthread_mutex_unlock(&sub->mu);
}

/* Sleep until woken, the timer is due, or `until` (stepped monotonic ns). */
static int sleep_until(streamlog_sub *sub, int64_t until)
{
    pthread_mutex_lock(&sub->mu);
    int epfd = sub->epfd;
    int64_t at = sub->timer_at;
    pthread_mutex_unlock(&sub->mu);
    if (epfd >= 0) { /* the caller watches the fd too: sleep on it, as the caller would */
        int wait_ms = -1;
        if (until != INT64_MAX) {
            int64_t left_ms = (until - mono_ns()) / 1000000 + 1;
            wait_ms = left_ms > INT_MAX ? INT_MAX : (int)left_ms;
        }
        struct pollfd pfd = {.fd = epfd, .events = POLLIN};
        if (poll(&pfd, 1, wait_ms) < 0 && errno != EINTR)
            return sl_fail(STREAMLOG_EIO, "poll: %s", strerror(errno));
        return STREAMLOG_OK;
    }
    if (until != INT64_MAX) {
        until -= atomic_load_explicit(&clock_step_ns, memory_order_relaxed);
        if (until < at)
            at = until;
    }
    sl_waiter_wait(&sub->waiter, at);
    return STREAMLOG_OK;
}

int sl_sub_next(streamlog_sub *sub, int64_t timeout_ms, const streamlog_msg **out)
{
    release_view(sub);
    if (sub->auto_ack) {
        sl_sub_ack(sub, sub->auto_ack);
        sub->auto_ack = 0;
    }
    /* A deadline past what the clock can count (timeouts of ~292 years and
     * more) is the end of time, not an overflow into the past. */
    int64_t start = mono_ns(), until = INT64_MAX;
    if (timeout_ms > 0 && timeout_ms <= (INT64_MAX - start) / 1000000)
        until = start + timeout_ms * 1000000;
    int drained = 0;
    for (;;) {
        int rc = try_deliver(sub, out);
        if (rc == STREAMLOG_OK) {
            if (sub->ack_mode == STREAMLOG_ACK_AUTO)
                sub->auto_ack = (*out)->seq;
            return rc;
        }
        if (rc != STREAMLOG_EAGAIN)
            return rc;
        /* Nothing now. Consume the wake-ups and look once more before
         * sleeping (or reporting EAGAIN), so none that arrived meanwhile is
         * lost; the fast path above never touches the fds. */
        if (!drained) {
            drain_fds(sub);
            drained = 1;
            continue;
        }
        drained = 0;
        /* an idle subscription holds no reader slot: thousands of them may wait */
        sl_iter_release(sub->it);
        if ((rc = sub->src->flush(sub))) /* write buffered acks before sleeping */
            return rc;
        arm_timer(sub); /* also for callers who poll streamlog_sub_fd() themselves */
        if (timeout_ms == 0)
            return STREAMLOG_EAGAIN;
        if (until != INT64_MAX && until - mono_ns() <= 0) {
            stop_waiting(sub); /* the caller may not ask again soon */
            return sl_fail(STREAMLOG_ETIMEDOUT, "no message within %lld ms", (long long)timeout_ms);
        }
        if ((rc = sleep_until(sub, until)))
            return rc;
    }
}

int sl_sub_fd(streamlog_sub *sub)
{
    pthread_mutex_lock(&sub->mu);
    int rc = sub->epfd >= 0 ? STREAMLOG_OK : make_fds(sub);
    int fd = sub->epfd;
    pthread_mutex_unlock(&sub->mu);
    return rc ? rc : fd;
}

/* ---- close ---- */

/* Grouped: give back what this member claimed but never delivered. */
static int return_undelivered(streamlog_sub *sub, sl_txn *t)
{
    if (sub->next_seq >= sub->claim_end)
        return STREAMLOG_OK;
    sl_group_rec g;
    int rc = sl_group_load(t, sub->group_key, sub->group_klen, &g);
    if (rc)
        return rc == STREAMLOG_ENOTFOUND ? STREAMLOG_OK : rc;
    int rewind = g.next_seq == sub->claim_end; /* nobody claimed after us */
    for (uint64_t s = sub->next_seq; s < sub->claim_end && !rc; s++) {
        if (rewind) {
            rc = sl_pending_del(t, sub->group_id, s);
            if (rc == STREAMLOG_ENOTFOUND)
                rc = STREAMLOG_OK;
        } else if (sub->ack_mode != STREAMLOG_ACK_NONE) {
            rc = sl_pending_save(t, sub->group_id, s, &(sl_pending_rec){.owner = 0, .deliveries = 0, .deadline = 0});
        }
    }
    if (!rc && rewind) {
        g.next_seq = sub->next_seq;
        rc = sl_group_save(t, sub->group_key, sub->group_klen, &g);
    }
    return rc;
}

struct unregister_write {
    streamlog_sub *sub;
    int unsubscribe;
};

static int unregister_work(sl_txn *t, void *ctx)
{
    struct unregister_write *w = ctx;
    streamlog_sub *sub = w->sub;
    int rc = sl_member_del(t, sub->ch.id, sub->member_id);
    if (!rc && sub->grouped) {
        uint64_t live = 0;
        if (!(rc = write_acks(sub, t)) && !(rc = return_undelivered(sub, t)) && sub->queue)
            rc = sl_pending_orphan(t, sub->group_id, sub->member_id);
        if (!rc && sub->queue)
            rc = sl_members_count(t, sub->ch.id, sub->group_id, &live);
        int remove = sub->queue ? live == 0 && (w->unsubscribe || !sub->durable) : w->unsubscribe;
        if (!rc && remove)
            rc = sl_group_remove(t, sub->group_key, sub->group_klen, sub->group_id);
    }
    return rc;
}

static int unregister_member(streamlog_sub *sub, int unsubscribe)
{
    struct unregister_write w = {sub, unsubscribe};
    /* synced under the store's policy: a clean close keeps every ack (a plain
     * subscription keeps nothing) */
    return sl_store_write(sub->ch.st, !sub->grouped, unregister_work, &w);
}

int sl_sub_close(streamlog_sub *sub, int unsubscribe)
{
    streamlog_store *st = sub->ch.st;
    release_view(sub);
    if (sub->auto_ack)
        sl_sub_ack(sub, sub->auto_ack);
    sl_notify_remove(&st->notifier, &sub->waiter);
    int rc = unregister_member(sub, unsubscribe);
    if (rc == STREAMLOG_ECLOSED)
        rc = STREAMLOG_OK; /* the channel and its state are gone already */
    if (sub->queue) /* the other members may take over its messages (and turn) */
        sl_notify_channel(&st->notifier, sub->ch.id);
    atomic_fetch_sub(&st->children, 1);
    free_sub(sub);
    return rc;
}

int sl_sub_stats(streamlog_sub *sub, streamlog_sub_stats_v2 *out)
{
    pthread_mutex_lock(&sub->mu);
    *out = (streamlog_sub_stats_v2){
        .pending = sub->inflight.len,
        .last_delivered = sub->last_delivered,
        .next_seq = sub->next_seq,
        .delivered = sub->delivered,
        .redelivered = sub->redelivered,
        .acked = sub->acked,
        .dead_lettered = sub->dead_lettered,
        .stalled = sub->ack_mode != STREAMLOG_ACK_NONE && sub->inflight.len >= sub->max_inflight,
        .max_inflight = sub->max_inflight,
    };
    pthread_mutex_unlock(&sub->mu);
    return STREAMLOG_OK;
}

/* ---- durables and queue groups seen from outside (no subscription) ---- */

static const struct {
    int kind;
    char byte;
} group_kinds[] = {
    {STREAMLOG_GROUP_DURABLE, SL_GROUP_DURABLE},
    {STREAMLOG_GROUP_QUEUE, SL_GROUP_QUEUE},
    {STREAMLOG_GROUP_DURABLE_QUEUE, SL_GROUP_DURABLE_QUEUE},
};

static char kind_byte(int kind)
{
    for (size_t i = 0; i < sizeof group_kinds / sizeof *group_kinds; i++)
        if (group_kinds[i].kind == kind)
            return group_kinds[i].byte;
    return 0;
}

static int kind_of_byte(uint8_t b)
{
    for (size_t i = 0; i < sizeof group_kinds / sizeof *group_kinds; i++)
        if ((uint8_t)group_kinds[i].byte == b)
            return group_kinds[i].kind;
    return 0;
}

/* The key of group (kind, name) of channel chan_id; name is "queue:durable"
 * for a durable queue group. */
static int group_key_of(uint64_t chan_id, int kind, const char *name, uint8_t *key, size_t *klen)
{
    char b = kind_byte(kind);
    if (!b)
        return sl_fail(STREAMLOG_EINVAL, "group kind %d is not a STREAMLOG_GROUP_* kind", kind);
    int rc;
    if (kind == STREAMLOG_GROUP_DURABLE_QUEUE) {
        const char *colon = strchr(name, ':');
        char queue[SL_GROUP_NAME_MAX + 1];
        size_t qlen = colon ? (size_t)(colon - name) : 0;
        if (!colon || qlen > SL_GROUP_NAME_MAX)
            return sl_fail(STREAMLOG_EINVAL, "a durable queue group is named \"queue:durable\", not '%s'", name);
        memcpy(queue, name, qlen);
        queue[qlen] = '\0';
        if ((rc = group_name_check(queue, "queue name")) || (rc = group_name_check(colon + 1, "durable name")))
            return rc;
        *klen = sl_group_key(key, chan_id, b, queue, colon + 1);
    } else {
        if ((rc = group_name_check(name, kind == STREAMLOG_GROUP_DURABLE ? "durable name" : "queue name")))
            return rc;
        *klen = sl_group_key(key, chan_id, b, name, NULL);
    }
    return STREAMLOG_OK;
}

int sl_group_list_next(streamlog_channel *ch, int after_kind, const char *after_name, int *out_kind, char *buf,
                       size_t cap)
{
    uint8_t key[SL_GROUP_KEY_MAX];
    size_t klen;
    int rc;
    if (after_kind) {
        if ((rc = group_key_of(ch->id, after_kind, after_name, key, &klen)))
            return rc;
    } else {
        sl_be64_put(key, ch->id);
        klen = 8;
    }
    sl_txn t;
    sl_cursor *c;
    sl_chan_rec rec;
    if ((rc = sl_read_begin(ch->st->env, &t)))
        return rc;
    if ((rc = sl_chan_load_handle(&t, ch, &rec)) || (rc = sl_cursor_open(&t, SL_DB_GROUPS, &c))) {
        sl_read_end(&t);
        return rc;
    }
    sl_val k = {key, klen};
    rc = sl_cursor_get(c, SL_SEEK_GE, &k, NULL);
    if (!rc && after_kind && k.len == klen && !memcmp(k.data, key, klen))
        rc = sl_cursor_get(c, SL_NEXT, &k, NULL);
    if (!rc && (k.len < 10 || k.len > SL_GROUP_KEY_MAX || sl_be64_get(k.data) != ch->id))
        rc = STREAMLOG_ENOTFOUND;
    int kind = 0;
    size_t nlen = 0;
    if (!rc) {
        const uint8_t *kd = k.data;
        kind = kind_of_byte(kd[8]);
        nlen = k.len - 9;
        if (!kind)
            rc = sl_fail(STREAMLOG_ECORRUPT, "subscription group record of unknown kind %u", kd[8]);
        else if (nlen + 1 > cap)
            rc = sl_fail(STREAMLOG_EINVAL, "buffer of %zu bytes is too small for a group name of %zu", cap, nlen);
        else {
            memcpy(buf, kd + 9, nlen);
            buf[nlen] = '\0';
        }
    }
    sl_cursor_close(c);
    sl_read_end(&t);
    if (rc == STREAMLOG_ENOTFOUND)
        return sl_fail(rc, "no further durable or queue group on channel '%s'", ch->name);
    if (!rc)
        *out_kind = kind;
    return rc;
}

static int group_load_named(const sl_txn *t, streamlog_channel *ch, int kind, const char *name, uint8_t *key,
                            size_t *klen, sl_chan_rec *rec, sl_group_rec *g)
{
    int rc = group_key_of(ch->id, kind, name, key, klen);
    if (rc || (rc = sl_chan_load_handle(t, ch, rec)))
        return rc;
    rc = sl_group_load(t, key, *klen, g);
    if (rc == STREAMLOG_ENOTFOUND)
        return sl_fail(rc, "channel '%s' has no such %s '%s'", ch->name,
                       kind == STREAMLOG_GROUP_DURABLE ? "durable" : "queue group", name);
    return rc;
}

int sl_group_stats(streamlog_channel *ch, int kind, const char *name, streamlog_group_stats_v2 *out)
{
    uint8_t key[SL_GROUP_KEY_MAX];
    size_t klen;
    sl_chan_rec rec;
    sl_group_rec g;
    sl_txn t;
    int rc = sl_read_begin(ch->st->env, &t);
    if (rc)
        return rc;
    streamlog_group_stats_v2 st = {.kind = (uint32_t)kind};
    if ((rc = group_load_named(&t, ch, kind, name, key, &klen, &rec, &g)) ||
        (rc = sl_members_count(&t, ch->id, g.id, &st.members)))
        goto out;
    sl_cursor *c;
    if ((rc = sl_cursor_open(&t, SL_DB_PENDING, &c)))
        goto out;
    uint64_t seq;
    sl_pending_rec p;
    for (rc = sl_pending_seek(c, g.id, 0, &seq, &p); rc == STREAMLOG_OK; rc = sl_pending_next(c, g.id, &seq, &p)) {
        st.pending++;
        st.redelivered += p.deliveries > 1;
    }
    sl_cursor_close(c);
    if (rc != STREAMLOG_ENOTFOUND)
        goto out;
    rc = STREAMLOG_OK;
    st.next_seq = g.next_seq;
    uint64_t from = g.next_seq > rec.first_seq ? g.next_seq : rec.first_seq;
    st.lag = rec.last_seq >= from ? rec.last_seq - from + 1 : 0;
out:
    sl_read_end(&t);
    if (!rc)
        *out = st;
    return rc;
}

struct group_delete_write {
    streamlog_channel *ch;
    int kind;
    const char *name;
};

static int group_delete_work(sl_txn *t, void *ctx)
{
    struct group_delete_write *w = ctx;
    uint8_t key[SL_GROUP_KEY_MAX];
    size_t klen;
    sl_chan_rec rec;
    sl_group_rec g;
    uint64_t all, live;
    int rc;
    if ((rc = group_load_named(t, w->ch, w->kind, w->name, key, &klen, &rec, &g)) ||
        (rc = sl_members_reap(t, w->ch->id, g.id, &all, &live)))
        return rc;
    if (live)
        return sl_fail(STREAMLOG_EBUSY, "'%s' on channel '%s' has %llu active subscription(s)", w->name,
                       w->ch->name, (unsigned long long)live);
    return sl_group_remove(t, key, klen, g.id);
}

int sl_group_delete(streamlog_channel *ch, int kind, const char *name)
{
    struct group_delete_write w = {ch, kind, name};
    return sl_store_write(ch->st, 0, group_delete_work, &w);
}
