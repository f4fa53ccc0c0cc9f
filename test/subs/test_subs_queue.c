/*
 * test_subs_queue.c - queue groups and cross-process delivery: members split
 * a channel into disjoint sets that together cover it (threads of one
 * process, and a member in another process); the unacked messages of a
 * member that closes, dies or lets its ack wait run out go to the others as
 * redeliveries; a durable queue group outlives its members closing and goes
 * when the last one unsubscribes; a non-durable group goes with its last
 * member; a subscriber is woken by a writer in another process.
 *
 * Children are forked before the forking process opens any store, open the
 * store themselves and end with _exit().
 */
#define _GNU_SOURCE
#include "subs_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "subs.h" /* sl_subs_clock_step: deadline tests step the clock instead of sleeping */

#define SEC 1000000000LL

/* Options of a member of queue `queue` (durable when `dur` is not NULL). */
static streamlog_opts *member_opts(const char *queue, const char *dur, int start, int64_t value, int64_t ack_wait)
{
    streamlog_opts *o = su_opts();
    su_str(o, STREAMLOG_OPT_QUEUE, queue);
    if (dur)
        su_str(o, STREAMLOG_OPT_DURABLE, dur);
    su_int(o, STREAMLOG_OPT_START, start);
    su_int(o, STREAMLOG_OPT_START_VALUE, value);
    su_int(o, STREAMLOG_OPT_ACK_WAIT_MS, ack_wait);
    return o;
}

static streamlog_sub *member(streamlog_channel *ch, const char *queue, const char *dur, int start, int64_t value,
                             int64_t ack_wait)
{
    streamlog_opts *o = member_opts(queue, dur, start, value, ack_wait);
    streamlog_sub *s = su_subscribe(ch, o);
    streamlog_opts_free(o);
    return s;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Collect what a member receives within `wait_ms` of quiet: counts per
 * sequence (seen[seq]) and redelivery counts (redel[seq], last seen). */
static int drain_member(streamlog_sub *s, int wait_ms, uint32_t *seen, uint32_t *redel, uint64_t max_seq, int ack)
{
    int n = 0;
    const streamlog_msg *m;
    int rc;
    while ((rc = streamlog_sub_next(s, wait_ms, &m)) == STREAMLOG_OK) {
        su_check_payload(m);
        uint64_t q = streamlog_msg_seq(m);
        ck_assert_msg(q >= 1 && q <= max_seq, "delivered #%llu, beyond %llu", (unsigned long long)q,
                      (unsigned long long)max_seq);
        seen[q]++;
        redel[q] = streamlog_msg_redelivery_count(m);
        if (ack)
            TU_OK(streamlog_ack(s, q));
        n++;
    }
    TU_RC(rc, wait_ms ? STREAMLOG_ETIMEDOUT : STREAMLOG_EAGAIN);
    return n;
}

/* ---- splitting a channel among threads ---- */

enum { SPLIT_PRE = 3000, SPLIT_LIVE = 1000, SPLIT_TOTAL = SPLIT_PRE + SPLIT_LIVE, SPLIT_MEMBERS = 3 };

struct split_member {
    streamlog_sub *sub;
    atomic_uint_fast64_t *total;
    uint8_t *got; /* got[seq]: deliveries of seq to this member */
    int n, redelivered;
    char err[256];
};

static void *split_main(void *p)
{
    struct split_member *a = p;
    while (atomic_load(a->total) < SPLIT_TOTAL) {
        const streamlog_msg *m;
        int rc = streamlog_sub_next(a->sub, 50, &m);
        if (rc == STREAMLOG_ETIMEDOUT)
            continue;
        if (rc) {
            snprintf(a->err, sizeof a->err, "sub_next: %s [%s]", tu_name(rc), tu_errmsg_safe());
            break;
        }
        uint64_t q = streamlog_msg_seq(m);
        if (q < 1 || q > SPLIT_TOTAL) {
            snprintf(a->err, sizeof a->err, "delivered #%llu", (unsigned long long)q);
            break;
        }
        a->got[q]++;
        a->n++;
        a->redelivered += streamlog_msg_redelivery_count(m) > 0;
        struct timespec ts = {0, 50 * 1000}; /* a little work, so every member gets a share */
        nanosleep(&ts, NULL);
        if ((rc = streamlog_ack(a->sub, q))) {
            snprintf(a->err, sizeof a->err, "ack: %s", tu_name(rc));
            break;
        }
        atomic_fetch_add(a->total, 1);
    }
    return NULL;
}

START_TEST(members_split_channel_among_threads)
{
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    su_fill_to(ch, SPLIT_PRE);
    atomic_uint_fast64_t total = 0;
    struct split_member mem[SPLIT_MEMBERS];
    pthread_t th[SPLIT_MEMBERS];
    for (int i = 0; i < SPLIT_MEMBERS; i++) {
        mem[i] = (struct split_member){.total = &total};
        mem[i].got = calloc(SPLIT_TOTAL + 1, 1);
        ck_assert_ptr_nonnull(mem[i].got);
        /* every member asks for FIRST; the group starts where its first member asks */
        mem[i].sub = member(ch, "q", NULL, STREAMLOG_START_FIRST, 0, 60000);
    }
    for (int i = 0; i < SPLIT_MEMBERS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, split_main, &mem[i]), 0);
    su_fill_to(ch, SPLIT_TOTAL); /* live appends while they consume */
    for (int i = 0; i < SPLIT_MEMBERS; i++)
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < SPLIT_MEMBERS; i++)
        ck_assert_msg(mem[i].err[0] == '\0', "member %d: %s", i, mem[i].err);
    /* disjoint and covering: each message exactly once over all members */
    for (uint64_t q = 1; q <= SPLIT_TOTAL; q++) {
        int n = 0;
        for (int i = 0; i < SPLIT_MEMBERS; i++)
            n += mem[i].got[q];
        ck_assert_msg(n == 1, "#%llu delivered %d times over the group", (unsigned long long)q, n);
    }
    for (int i = 0; i < SPLIT_MEMBERS; i++) {
        ck_assert_msg(mem[i].n > 0, "member %d got nothing (counts %d/%d/%d)", i, mem[0].n, mem[1].n, mem[2].n);
        ck_assert_int_eq(mem[i].redelivered, 0);
        SU_NOTHING(mem[i].sub);
        ck_assert_uint_eq(su_stats(mem[i].sub).pending, 0);
    }
    ck_assert_uint_eq(tu_stats(ch).subs, SPLIT_MEMBERS);
    for (int i = 0; i < SPLIT_MEMBERS; i++) {
        TU_OK(streamlog_sub_close(mem[i].sub));
        free(mem[i].got);
    }
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(joining_member_ignores_start)
{
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    su_fill_to(ch, 5);
    streamlog_sub *a = member(ch, "q", NULL, STREAMLOG_START_SEQUENCE, 3, 60000);
    streamlog_sub *b = member(ch, "q", NULL, STREAMLOG_START_FIRST, 0, 60000); /* joins at the group's 3 */
    uint32_t seen[8] = {0}, redel[8] = {0};
    drain_member(b, 0, seen, redel, 7, 1);
    drain_member(a, 0, seen, redel, 7, 1);
    for (uint64_t q = 1; q <= 5; q++)
        ck_assert_uint_eq(seen[q], q >= 3);
    /* another queue name on the channel is another group */
    streamlog_sub *c = member(ch, "other", NULL, STREAMLOG_START_FIRST, 0, 60000);
    SU_EXPECT(c, 0, 1, 0);
    TU_OK(streamlog_sub_close(c));
    TU_OK(streamlog_sub_close(a));
    TU_OK(streamlog_sub_close(b));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* ---- hand-over ---- */

START_TEST(closed_member_hands_over_unacked)
{
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    su_fill_to(ch, 20);
    streamlog_sub *a = member(ch, "q", NULL, STREAMLOG_START_FIRST, 0, 60000);
    streamlog_sub *b = member(ch, "q", NULL, STREAMLOG_START_FIRST, 0, 60000);
    for (uint64_t q = 1; q <= 5; q++)
        SU_EXPECT(a, 0, q, 0); /* a claimed them; none acked */
    TU_OK(streamlog_ack(a, 2)); /* except 2 */
    TU_OK(streamlog_sub_close(a));
    uint32_t seen[21] = {0}, redel[21] = {0};
    drain_member(b, 300, seen, redel, 20, 1);
    for (uint64_t q = 1; q <= 20; q++) {
        ck_assert_msg(seen[q] == (q != 2), "#%llu reached the remaining member %u times", (unsigned long long)q,
                      seen[q]);
        if (q <= 5 && q != 2)
            ck_assert_msg(redel[q] == 1, "#%llu handed over with redelivery count %u", (unsigned long long)q,
                          redel[q]);
        if (q > 5)
            ck_assert_msg(redel[q] == 0, "#%llu (never delivered) has redelivery count %u", (unsigned long long)q,
                          redel[q]);
    }
    TU_OK(streamlog_sub_close(b));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* Steps the subscriptions' clock past the ack wait instead of sleeping
 * through it, so that no bound on scheduling enters the test. */
START_TEST(expired_ack_wait_hands_over)
{
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    su_fill_to(ch, 3);
    streamlog_sub *a = member(ch, "q", NULL, STREAMLOG_START_FIRST, 0, 60000);
    for (uint64_t q = 1; q <= 3; q++)
        SU_EXPECT(a, 0, q, 0);
    streamlog_sub *b = member(ch, "q", NULL, STREAMLOG_START_FIRST, 0, 60000);
    SU_NOTHING(b); /* a's, and not yet due */
    sl_subs_clock_step(59 * SEC);
    SU_NOTHING(b); /* never before a's ack wait ran out */
    sl_subs_clock_step(2 * SEC);
    uint32_t seen[4] = {0}, redel[4] = {0};
    for (int i = 0; i < 3; i++) {
        uint32_t r;
        uint64_t q = su_next(b, 0, &r);
        ck_assert(q >= 1 && q <= 3);
        seen[q]++;
        redel[q] = r;
        TU_OK(streamlog_ack(b, q));
    }
    for (int q = 1; q <= 3; q++) {
        ck_assert_uint_eq(seen[q], 1);
        ck_assert_uint_eq(redel[q], 1);
    }
    /* a's own deadlines are past too, yet it does not get them again: they
     * are b's (and acked); it forgets them */
    SU_NOTHING(a);
    TU_OK(streamlog_ack(a, 1)); /* harmless */
    ck_assert_uint_eq(su_stats(a).pending, 0);
    SU_NOTHING(b);
    TU_OK(streamlog_sub_close(a));
    TU_OK(streamlog_sub_close(b));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* ---- durable and non-durable groups ---- */

START_TEST(durable_queue_survives_members_closing)
{
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    su_fill_to(ch, 3);
    streamlog_sub *a = member(ch, "w", "d", STREAMLOG_START_FIRST, 0, 60000);
    for (uint64_t q = 1; q <= 3; q++)
        SU_EXPECT(a, 0, q, 0);
    TU_OK(streamlog_ack(a, 1));
    TU_OK(streamlog_sub_close(a)); /* the last member closes: the group stays */
    ck_assert_uint_eq(tu_stats(ch).subs, 0);
    su_fill_to(ch, 4);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));

    st = su_open_store(); /* and across a store close */
    ch = tu_chan(st, "c", NULL);
    streamlog_sub *b = member(ch, "w", "d", STREAMLOG_START_SEQUENCE, 100, 60000); /* start ignored */
    SU_EXPECT(b, 0, 2, 1);
    SU_EXPECT(b, 0, 3, 1);
    SU_EXPECT(b, 0, 4, 0);
    SU_NOTHING(b);
    TU_OK(streamlog_ack(b, 2));
    TU_OK(streamlog_ack(b, 3));
    /* b leaves with 4 unacked while c is a member: the group stays, c gets 4 */
    streamlog_sub *c = member(ch, "w", "d", STREAMLOG_START_FIRST, 0, 60000);
    TU_OK(streamlog_sub_unsubscribe(b));
    SU_EXPECT(c, 1000, 4, 1);
    TU_OK(streamlog_ack(c, 4));
    su_fill_to(ch, 5);
    SU_EXPECT(c, 0, 5, 0);
    TU_OK(streamlog_ack(c, 5));
    /* the last member unsubscribes: the group is removed */
    TU_OK(streamlog_sub_unsubscribe(c));
    streamlog_sub *d = member(ch, "w", "d", STREAMLOG_START_FIRST, 0, 60000);
    SU_EXPECT(d, 0, 1, 0); /* a fresh group at its start position */
    TU_OK(streamlog_sub_unsubscribe(d));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(durable_queue_distinct_from_plain_durable_and_queue)
{
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    su_fill_to(ch, 2);
    streamlog_sub *dq = member(ch, "x", "x", STREAMLOG_START_FIRST, 0, 60000);
    streamlog_sub *q = member(ch, "x", NULL, STREAMLOG_START_FIRST, 0, 60000);
    streamlog_opts *o = su_opts();
    su_str(o, STREAMLOG_OPT_DURABLE, "x");
    su_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST);
    streamlog_sub *d = su_subscribe(ch, o);
    streamlog_opts_free(o);
    /* three groups, each sees the whole channel */
    SU_EXPECT(dq, 0, 1, 0);
    SU_EXPECT(dq, 0, 2, 0);
    SU_EXPECT(q, 0, 1, 0);
    SU_EXPECT(q, 0, 2, 0);
    SU_EXPECT(d, 0, 1, 0);
    SU_EXPECT(d, 0, 2, 0);
    TU_OK(streamlog_sub_close(dq));
    TU_OK(streamlog_sub_close(q));
    TU_OK(streamlog_sub_close(d));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(plain_queue_gone_after_last_member)
{
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    su_fill_to(ch, 5);
    streamlog_sub *a = member(ch, "q", NULL, STREAMLOG_START_FIRST, 0, 60000);
    streamlog_sub *b = member(ch, "q", NULL, STREAMLOG_START_FIRST, 0, 60000);
    SU_EXPECT(a, 0, 1, 0);
    SU_EXPECT(a, 0, 2, 0);
    TU_OK(streamlog_ack(a, 1));
    TU_OK(streamlog_sub_close(a)); /* b remains: the group remains */
    SU_EXPECT(b, 1000, 2, 1);
    TU_OK(streamlog_sub_close(b)); /* the last one: the group goes */
    /* a new member starts a new group at its own start position */
    a = member(ch, "q", NULL, STREAMLOG_START_SEQUENCE, 4, 60000);
    SU_EXPECT(a, 0, 4, 0);
    SU_EXPECT(a, 0, 5, 0);
    SU_NOTHING(a);
    TU_OK(streamlog_sub_close(a));
    a = member(ch, "q", NULL, STREAMLOG_START_FIRST, 0, 60000);
    SU_EXPECT(a, 0, 1, 0);
    TU_OK(streamlog_sub_close(a));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* ---- a member in another process ---- */

/* Queue member in a child: consumes, acks and reports each sequence on out_w
 * until a byte arrives on stop_r; waits by polling its sub_fd. */
struct remote_member_arg {
    int go_r, out_w, stop_r;
    int take; /* > 0: take this many without acking, report them, then wait to be killed */
    int64_t ack_wait;
};

static void remote_member_main(void *p)
{
    struct remote_member_arg *a = p;
    char c;
    (void)tu_read_full(a->go_r, &c, 1);
    streamlog_store *st;
    streamlog_channel *ch;
    streamlog_sub *s;
    streamlog_opts *o;
    SU_CCHECK(streamlog_opts_new(&o));
    SU_CCHECK(streamlog_opts_set_int(o, STREAMLOG_OPT_SYNC, STREAMLOG_SYNC_NONE));
    SU_CCHECK(streamlog_open(tu_store, o, &st));
    streamlog_opts_free(o);
    SU_CCHECK(streamlog_channel_open(st, "c", 0, NULL, &ch));
    SU_CCHECK(streamlog_opts_new(&o));
    SU_CCHECK(streamlog_opts_set_str(o, STREAMLOG_OPT_QUEUE, "q"));
    SU_CCHECK(streamlog_opts_set_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST));
    SU_CCHECK(streamlog_opts_set_int(o, STREAMLOG_OPT_ACK_WAIT_MS, a->ack_wait ? a->ack_wait : 60000));
    SU_CCHECK(streamlog_subscribe(ch, o, &s));
    streamlog_opts_free(o);
    su_send(a->out_w, 0); /* subscribed */
    const streamlog_msg *m;
    if (a->take > 0) {
        for (int i = 0; i < a->take; i++) {
            SU_CCHECK(streamlog_sub_next(s, 5000, &m));
            su_send(a->out_w, streamlog_msg_seq(m));
        }
        for (;;)
            pause();
    }
    struct pollfd fds[2] = {{.fd = streamlog_sub_fd(s), .events = POLLIN}, {.fd = a->stop_r, .events = POLLIN}};
    for (;;) {
        int rc;
        while ((rc = streamlog_sub_next(s, 0, &m)) == STREAMLOG_OK) {
            uint64_t q = streamlog_msg_seq(m);
            su_send(a->out_w, q);
            SU_CCHECK(streamlog_ack(s, q));
            struct timespec ts = {0, 100 * 1000};
            nanosleep(&ts, NULL);
        }
        SU_CCHECK_RC(rc, STREAMLOG_EAGAIN);
        if (poll(fds, 2, 1000) < 0 && errno != EINTR)
            su_cfail("poll: %s", strerror(errno));
        if (fds[1].revents)
            break;
    }
    SU_CCHECK(streamlog_sub_close(s));
    streamlog_channel_close(ch);
    SU_CCHECK(streamlog_close(st));
}

START_TEST(member_in_other_process)
{
    enum { N = 2000 };
    struct su_pipe go = su_pipe_new(), out = su_pipe_new(), stop = su_pipe_new();
    struct remote_member_arg ra = {go.r, out.w, stop.r, 0, 0};
    struct su_child c = su_spawn(remote_member_main, &ra, 60);
    close(go.r);
    close(out.w);
    close(stop.r);
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    su_fill_to(ch, N);
    streamlog_sub *mine = member(ch, "q", NULL, STREAMLOG_START_FIRST, 0, 60000);
    uint8_t *got = calloc(N + 1, 1);
    int n_mine = 0, n_remote = 0;
    /* This member takes the first message before the other process joins,
     * and then works slowly enough (1 ms a message) for the other to join
     * even under valgrind: both must get a share, none a message twice. */
    {
        const streamlog_msg *m;
        TU_OK(streamlog_sub_next(mine, 5000, &m));
        got[streamlog_msg_seq(m)]++;
        n_mine++;
        TU_OK(streamlog_ack(mine, streamlog_msg_seq(m)));
    }
    ck_assert_int_eq(tu_write_full(go.w, "g", 1), 0);
    uint64_t v;
    if (su_recv(out.r, &v) != 0)
        su_reap(c, "remote member");
    ck_assert_uint_eq(tu_stats(ch).subs, 2);
    int64_t deadline = tu_mono_ms() + 30000;
    while (n_mine + n_remote < N && tu_mono_ms() < deadline) {
        const streamlog_msg *m;
        int rc = streamlog_sub_next(mine, 5, &m);
        if (rc == STREAMLOG_OK) {
            uint64_t q = streamlog_msg_seq(m);
            ck_assert(q >= 1 && q <= N);
            got[q]++;
            n_mine++;
            TU_OK(streamlog_ack(mine, q));
            struct timespec ts = {0, 1000 * 1000};
            nanosleep(&ts, NULL);
        } else {
            TU_RC(rc, STREAMLOG_ETIMEDOUT);
        }
        struct pollfd pf = {.fd = out.r, .events = POLLIN};
        while (poll(&pf, 1, 0) > 0 && su_recv(out.r, &v) == 0) {
            ck_assert(v >= 1 && v <= N);
            got[v]++;
            n_remote++;
        }
    }
    ck_assert_int_eq(tu_write_full(stop.w, "s", 1), 0);
    su_reap(c, "remote member");
    while (su_recv(out.r, &v) == 0) { /* anything after the last poll */
        got[v]++;
        n_remote++;
    }
    for (uint64_t q = 1; q <= N; q++)
        ck_assert_msg(got[q] == 1, "#%llu delivered %u times over the two processes", (unsigned long long)q, got[q]);
    ck_assert_msg(n_mine > 0 && n_remote > 0, "no split: this process %d, the other %d", n_mine, n_remote);
    free(got);
    TU_OK(streamlog_sub_close(mine));
    close(go.w);
    close(out.r);
    close(stop.w);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* A member in another process takes 1..5 and is killed. `activity`: this
 * process then appends 6 (the dead member's messages are handed over at the
 * next wake-up, found dead by its pid); otherwise nothing happens and they
 * come back when their ack wait (500 ms) runs out. */
static void killed_member_hands_over(int activity)
{
    struct su_pipe go = su_pipe_new(), out = su_pipe_new(), stop = su_pipe_new();
    struct remote_member_arg ra = {go.r, out.w, stop.r, 5, activity ? 60000 : 500};
    struct su_child c = su_spawn(remote_member_main, &ra, 60);
    close(go.r);
    close(out.w);
    close(stop.r);
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    su_fill_to(ch, 5);
    ck_assert_int_eq(tu_write_full(go.w, "g", 1), 0);
    uint64_t v;
    for (int i = 0; i <= 5; i++) /* "subscribed", then the five it took */
        if (su_recv(out.r, &v) != 0)
            su_reap(c, "remote member");
    streamlog_sub *mine = member(ch, "q", NULL, STREAMLOG_START_FIRST, 0, 60000);
    SU_NOTHING(mine); /* all five are the other member's */
    su_kill(c);
    int64_t t0 = tu_mono_ms();
    if (activity)
        su_fill_to(ch, 6);
    uint64_t last = activity ? 6 : 5;
    uint32_t seen[7] = {0}, redel[7] = {0};
    for (uint64_t i = 0; i < last; i++) {
        uint32_t r;
        uint64_t q = su_next(mine, 5000, &r);
        ck_assert(q >= 1 && q <= last);
        seen[q]++;
        redel[q] = r;
        TU_OK(streamlog_ack(mine, q));
    }
    int64_t took = tu_mono_ms() - t0;
    ck_assert_msg(took < 3000, "hand-over took %lld ms", (long long)took);
    for (uint64_t q = 1; q <= last; q++) {
        ck_assert_uint_eq(seen[q], 1);
        ck_assert_uint_eq(redel[q], q <= 5 ? 1 : 0);
    }
    SU_NOTHING(mine);
    TU_OK(streamlog_sub_close(mine));
    close(go.w);
    close(out.r);
    close(stop.w);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}

START_TEST(killed_member_in_other_process_hands_over)
{
    killed_member_hands_over(1);
}
END_TEST

START_TEST(killed_member_quiet_channel_hands_over_after_ack_wait)
{
    killed_member_hands_over(0);
}
END_TEST

/* ---- cross-process live delivery ---- */

/* Writer child: opens the store, waits a little (the parent is then
 * asleep), appends "m<seq>" and reports the monotonic time after the append
 * returned. */
struct writer_arg {
    int go_r, out_w;
    uint64_t seq;
};

static void writer_main(void *p)
{
    struct writer_arg *a = p;
    char c;
    (void)tu_read_full(a->go_r, &c, 1);
    streamlog_store *st;
    streamlog_channel *ch;
    SU_CCHECK(streamlog_open(tu_store, NULL, &st)); /* SYNC_ALWAYS */
    SU_CCHECK(streamlog_channel_open(st, "c", 0, NULL, &ch));
    tu_sleep_ms(300);
    char buf[32];
    int n = snprintf(buf, sizeof buf, "m%llu", (unsigned long long)a->seq);
    uint64_t seq = 0;
    SU_CCHECK(streamlog_append(ch, buf, (size_t)n, &seq));
    int64_t done = mono_ns();
    SU_CASSERT(seq == a->seq, "appended #%llu", (unsigned long long)seq);
    su_send(a->out_w, (uint64_t)done);
    streamlog_channel_close(ch);
    SU_CCHECK(streamlog_close(st));
}

struct blocked_next {
    streamlog_sub *sub;
    int rc;
    uint64_t seq;
    int64_t at;
    atomic_int done;
};

static void *blocked_next_main(void *p)
{
    struct blocked_next *b = p;
    const streamlog_msg *m = NULL;
    b->rc = streamlog_sub_next(b->sub, -1, &m);
    b->at = mono_ns();
    if (b->rc == STREAMLOG_OK)
        b->seq = streamlog_msg_seq(m);
    atomic_store(&b->done, 1);
    return NULL;
}

static void woken_by_other_process(int use_fd, int queue)
{
    struct su_pipe go = su_pipe_new(), out = su_pipe_new();
    struct writer_arg wa = {go.r, out.w, 4};
    struct su_child c = su_spawn(writer_main, &wa, 60);
    close(go.r);
    close(out.w);
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    su_fill_to(ch, 3);
    streamlog_sub *s = queue ? member(ch, "q", "d", STREAMLOG_START_NEW_ONLY, 0, 60000) : su_subscribe(ch, NULL);
    SU_NOTHING(s);
    ck_assert_int_eq(tu_write_full(go.w, "g", 1), 0);
    int64_t woke;
    if (use_fd) {
        int fd = streamlog_sub_fd(s);
        const streamlog_msg *m = NULL;
        int rc = STREAMLOG_EAGAIN;
        /* an event loop: spurious wakeups are answered by EAGAIN */
        for (int spins = 0; spins < 20 && rc == STREAMLOG_EAGAIN; spins++) {
            ck_assert_msg(su_readable(fd, 5000), "sub fd not readable within 5 s of the other process's append");
            rc = streamlog_sub_next(s, 0, &m);
        }
        TU_OK(rc);
        woke = mono_ns();
        ck_assert_uint_eq(streamlog_msg_seq(m), 4);
        su_check_payload(m);
    } else {
        /* sub_next(-1) in a thread, so that a lost wake-up fails in 5 s instead of hanging */
        struct blocked_next b = {.sub = s};
        pthread_t th;
        ck_assert_int_eq(pthread_create(&th, NULL, blocked_next_main, &b), 0);
        int64_t until = tu_mono_ms() + 5000;
        while (!atomic_load(&b.done) && tu_mono_ms() < until)
            tu_sleep_ms(1);
        ck_assert_msg(atomic_load(&b.done), "sub_next(-1) not woken within 5 s of the other process's append");
        ck_assert_int_eq(pthread_join(th, NULL), 0);
        TU_OK(b.rc);
        ck_assert_uint_eq(b.seq, 4);
        woke = b.at;
    }
    uint64_t appended = 0;
    int got = su_recv(out.r, &appended);
    su_reap(c, "writer");
    ck_assert_int_eq(got, 0);
    int64_t lat = woke - (int64_t)appended;
    fprintf(stderr, "cross-process wake (%s, %s): %.3f ms after the append returned\n", use_fd ? "poll(sub_fd)" : "sub_next(-1)",
            queue ? "durable queue member" : "plain", lat / 1e6);
    ck_assert_msg(lat < 1000000000LL, "woken %.1f ms after the other process's append", lat / 1e6);
    TU_OK(streamlog_sub_close(s));
    close(go.w);
    close(out.r);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}

START_TEST(woken_by_other_process_sub_next)
{
    woken_by_other_process(0, 0);
}
END_TEST

START_TEST(woken_by_other_process_poll_fd)
{
    woken_by_other_process(1, 0);
}
END_TEST

START_TEST(queue_member_woken_by_other_process)
{
    woken_by_other_process(0, 1);
}
END_TEST

START_TEST(queue_member_woken_by_other_process_poll_fd)
{
    woken_by_other_process(1, 1);
}
END_TEST

static Suite *subs_queue_suite(void)
{
    Suite *s = suite_create("subs-queue");
    TCase *tc = tu_tcase("groups", 60);
    tcase_add_test(tc, members_split_channel_among_threads);
    tcase_add_test(tc, joining_member_ignores_start);
    tcase_add_test(tc, closed_member_hands_over_unacked);
    tcase_add_test(tc, expired_ack_wait_hands_over);
    tcase_add_test(tc, durable_queue_survives_members_closing);
    tcase_add_test(tc, durable_queue_distinct_from_plain_durable_and_queue);
    tcase_add_test(tc, plain_queue_gone_after_last_member);
    suite_add_tcase(s, tc);

    tc = tu_tcase("processes", 60);
    tcase_add_test(tc, member_in_other_process);
    tcase_add_test(tc, killed_member_in_other_process_hands_over);
    tcase_add_test(tc, killed_member_quiet_channel_hands_over_after_ack_wait);
    tcase_add_test(tc, woken_by_other_process_sub_next);
    tcase_add_test(tc, woken_by_other_process_poll_fd);
    tcase_add_test(tc, queue_member_woken_by_other_process);
    tcase_add_test(tc, queue_member_woken_by_other_process_poll_fd);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    return tu_run(subs_queue_suite());
}
