/*
 * test_subs_durable.c - durable subscriptions: resume after a close, after
 * the store is closed and reopened, and after the subscribing process is
 * killed with SIGKILL (unacked messages first, then on after the last
 * delivered; the start position given on resume is ignored); acks kept by a
 * clean close; unsubscribe removing the state; EEXIST for a second active
 * subscription on a durable, in this process and from another one.
 *
 * Children are forked before the forking process opens any store, open the
 * store themselves and end with _exit().
 */
#define _GNU_SOURCE
#include "subs_util.h"

#include <pthread.h>

/* Options of durable "d": start position, manual acks, long ack wait. */
static streamlog_opts *durable_opts(const char *name, int start, int64_t value)
{
    streamlog_opts *o = su_opts();
    su_str(o, STREAMLOG_OPT_DURABLE, name);
    su_int(o, STREAMLOG_OPT_START, start);
    su_int(o, STREAMLOG_OPT_START_VALUE, value);
    su_int(o, STREAMLOG_OPT_ACK_WAIT_MS, 60000);
    su_int(o, STREAMLOG_OPT_MAX_INFLIGHT, 8192);
    return o;
}

static streamlog_sub *durable(streamlog_channel *ch, const char *name, int start, int64_t value)
{
    streamlog_opts *o = durable_opts(name, start, value);
    streamlog_sub *s = su_subscribe(ch, o);
    streamlog_opts_free(o);
    return s;
}

/* Resume check shared by close and reopen: 1..10 stored, 1..5 delivered,
 * 1, 2 and 4 acked; the resumed durable must redeliver 3 and 5, then go on
 * with 6.. (not at the start position it is given). */
static void deliver_five_ack_three(streamlog_channel *ch, streamlog_sub **out)
{
    su_fill_to(ch, 10);
    streamlog_sub *s = durable(ch, "d", STREAMLOG_START_FIRST, 0);
    for (uint64_t q = 1; q <= 5; q++)
        SU_EXPECT(s, 0, q, 0);
    TU_OK(streamlog_ack(s, 1));
    TU_OK(streamlog_ack(s, 2));
    TU_OK(streamlog_ack(s, 4));
    *out = s;
}

static void expect_resumed(streamlog_channel *ch)
{
    su_fill_to(ch, 11);
    streamlog_sub *s = durable(ch, "d", STREAMLOG_START_SEQUENCE, 9); /* ignored on resume */
    ck_assert_uint_eq(su_stats(s).pending, 2);
    SU_EXPECT(s, 0, 3, 1);
    SU_EXPECT(s, 0, 5, 1);
    for (uint64_t q = 6; q <= 11; q++)
        SU_EXPECT(s, 0, q, 0);
    SU_NOTHING(s);
    for (uint64_t q = 3; q <= 11; q++)
        TU_OK(streamlog_ack(s, q));
    TU_OK(streamlog_sub_close(s));
    /* everything acked: a third life has nothing to do */
    s = durable(ch, "d", STREAMLOG_START_FIRST, 0);
    SU_NOTHING(s);
    TU_OK(streamlog_sub_close(s));
}

START_TEST(resume_after_close)
{
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    streamlog_sub *s;
    deliver_five_ack_three(ch, &s);
    TU_OK(streamlog_sub_close(s));
    ck_assert_uint_eq(tu_stats(ch).subs, 0);
    expect_resumed(ch);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(resume_after_store_reopen)
{
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    streamlog_sub *s;
    deliver_five_ack_three(ch, &s);
    TU_OK(streamlog_sub_close(s));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
    st = su_open_store();
    ch = tu_chan(st, "c", NULL);
    expect_resumed(ch);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(start_position_applies_on_first_subscribe_only)
{
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    su_fill_to(ch, 5);
    streamlog_sub *s = durable(ch, "d", STREAMLOG_START_SEQUENCE, 4);
    SU_EXPECT(s, 0, 4, 0);
    TU_OK(streamlog_ack(s, 4));
    TU_OK(streamlog_sub_close(s));
    s = durable(ch, "d", STREAMLOG_START_FIRST, 0); /* resumes after 4, not at 1 */
    SU_EXPECT(s, 0, 5, 0);
    TU_OK(streamlog_ack(s, 5));
    TU_OK(streamlog_sub_close(s));
    s = durable(ch, "d", STREAMLOG_START_LAST_RECEIVED, 0);
    SU_NOTHING(s);
    su_fill_to(ch, 6);
    SU_EXPECT(s, 0, 6, 0);
    TU_OK(streamlog_sub_close(s));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(durables_are_per_channel_and_name)
{
    streamlog_store *st = su_open_store();
    streamlog_channel *a = tu_chan(st, "a", NULL);
    streamlog_channel *b = tu_chan(st, "b", NULL);
    su_fill_to(a, 3);
    su_fill_to(b, 3);
    streamlog_sub *d_a = durable(a, "d", STREAMLOG_START_FIRST, 0);
    streamlog_sub *d_b = durable(b, "d", STREAMLOG_START_SEQUENCE, 3); /* same name, other channel */
    streamlog_sub *e_a = durable(a, "e", STREAMLOG_START_SEQUENCE, 2); /* other name, same channel */
    SU_EXPECT(d_a, 0, 1, 0);
    TU_OK(streamlog_ack(d_a, 1));
    SU_EXPECT(d_b, 0, 3, 0);
    TU_OK(streamlog_ack(d_b, 3));
    SU_EXPECT(e_a, 0, 2, 0); /* not acked */
    TU_OK(streamlog_sub_close(d_a));
    TU_OK(streamlog_sub_close(d_b));
    TU_OK(streamlog_sub_close(e_a));
    d_a = durable(a, "d", STREAMLOG_START_FIRST, 0);
    d_b = durable(b, "d", STREAMLOG_START_FIRST, 0);
    e_a = durable(a, "e", STREAMLOG_START_FIRST, 0);
    SU_EXPECT(d_a, 0, 2, 0);
    SU_NOTHING(d_b);
    SU_EXPECT(e_a, 0, 2, 1);
    SU_EXPECT(e_a, 0, 3, 0);
    TU_OK(streamlog_sub_unsubscribe(d_a));
    TU_OK(streamlog_sub_unsubscribe(d_b));
    TU_OK(streamlog_sub_unsubscribe(e_a));
    streamlog_channel_close(a);
    streamlog_channel_close(b);
    TU_OK(streamlog_close(st));
}
END_TEST

/* ---- unsubscribe ---- */

START_TEST(unsubscribe_removes_state)
{
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    su_fill_to(ch, 10);
    streamlog_sub *s = durable(ch, "d", STREAMLOG_START_FIRST, 0);
    SU_EXPECT(s, 0, 1, 0);
    SU_EXPECT(s, 0, 2, 0);
    SU_EXPECT(s, 0, 3, 0);
    TU_OK(streamlog_ack(s, 1));
    TU_OK(streamlog_sub_unsubscribe(s));
    ck_assert_uint_eq(tu_stats(ch).subs, 0);
    /* a new durable of that name starts fresh, at its own start position */
    s = durable(ch, "d", STREAMLOG_START_SEQUENCE, 7);
    ck_assert_uint_eq(su_stats(s).pending, 0);
    SU_EXPECT(s, 0, 7, 0); /* no redelivery of 2 and 3 */
    TU_OK(streamlog_sub_unsubscribe(s));
    s = durable(ch, "d", STREAMLOG_START_NEW_ONLY, 0);
    SU_NOTHING(s);
    TU_OK(streamlog_sub_close(s));
    /* also across a store close */
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
    st = su_open_store();
    ch = tu_chan(st, "c", NULL);
    s = durable(ch, "d", STREAMLOG_START_FIRST, 0); /* resumes the NEW_ONLY durable: at 11 */
    SU_NOTHING(s);
    TU_OK(streamlog_sub_unsubscribe(s));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
    st = su_open_store();
    ch = tu_chan(st, "c", NULL);
    s = durable(ch, "d", STREAMLOG_START_FIRST, 0);
    SU_EXPECT(s, 0, 1, 0);
    TU_OK(streamlog_sub_close(s));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* ---- acks kept by a clean close ---- */

struct acker_arg {
    streamlog_sub *sub;
    uint64_t from, to;
};

static void *acker_main(void *p)
{
    struct acker_arg *a = p;
    for (uint64_t q = a->from; q <= a->to; q++)
        if (streamlog_ack(a->sub, q) != STREAMLOG_OK)
            return (void *)1;
    return NULL;
}

START_TEST(clean_close_keeps_every_ack)
{
    enum { N = 3000 };
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    su_fill_to(ch, N);
    streamlog_sub *s = durable(ch, "d", STREAMLOG_START_FIRST, 0);
    /* deliver everything, then ack from another thread, then close at once */
    for (uint64_t q = 1; q <= N; q++)
        SU_EXPECT(s, 0, q, 0);
    struct acker_arg a = {s, 1, N - 1}; /* N stays unacked */
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, acker_main, &a), 0);
    void *res;
    ck_assert_int_eq(pthread_join(th, &res), 0);
    ck_assert_ptr_null(res);
    ck_assert_uint_eq(su_stats(s).pending, 1);
    TU_OK(streamlog_sub_close(s));
    s = durable(ch, "d", STREAMLOG_START_FIRST, 0);
    ck_assert_uint_eq(su_stats(s).pending, 1);
    SU_EXPECT(s, 0, N, 1);
    SU_NOTHING(s);
    /* interleaved acks and deliveries, then a store close and reopen */
    su_fill_to(ch, 2 * N);
    for (uint64_t q = N + 1; q <= 2 * N; q++) {
        SU_EXPECT(s, 0, q, 0);
        TU_OK(streamlog_ack(s, q));
    }
    TU_OK(streamlog_ack(s, N));
    TU_OK(streamlog_sub_close(s));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
    st = su_open_store();
    ch = tu_chan(st, "c", NULL);
    s = durable(ch, "d", STREAMLOG_START_FIRST, 0);
    ck_assert_uint_eq(su_stats(s).pending, 0);
    SU_NOTHING(s);
    TU_OK(streamlog_sub_close(s));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(auto_ack_durable_acks_last_at_close)
{
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    su_fill_to(ch, 4);
    streamlog_opts *o = durable_opts("d", STREAMLOG_START_FIRST, 0);
    su_int(o, STREAMLOG_OPT_ACK_MODE, STREAMLOG_ACK_AUTO);
    streamlog_sub *s = su_subscribe(ch, o);
    SU_EXPECT(s, 0, 1, 0);
    SU_EXPECT(s, 0, 2, 0); /* acks 1; 2 is acked by the close */
    TU_OK(streamlog_sub_close(s));
    s = su_subscribe(ch, o);
    SU_EXPECT(s, 0, 3, 0);
    TU_OK(streamlog_sub_close(s));
    streamlog_opts_free(o);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(dead_lettered_is_not_resumed)
{
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    su_fill_to(ch, 2);
    streamlog_opts *o = durable_opts("d", STREAMLOG_START_FIRST, 0);
    su_int(o, STREAMLOG_OPT_ACK_WAIT_MS, 60);
    su_int(o, STREAMLOG_OPT_MAX_DELIVER, 1);
    su_str(o, STREAMLOG_OPT_DEAD_LETTER, "dl");
    streamlog_sub *s = su_subscribe(ch, o);
    SU_EXPECT(s, 0, 1, 0);
    SU_EXPECT(s, 0, 2, 0);
    TU_OK(streamlog_ack(s, 2));
    tu_sleep_ms(100);
    SU_NOTHING(s); /* 1 goes to "dl" */
    ck_assert_uint_eq(su_stats(s).dead_lettered, 1);
    TU_OK(streamlog_sub_close(s));
    s = su_subscribe(ch, o);
    ck_assert_uint_eq(su_stats(s).pending, 0);
    SU_NOTHING(s);
    TU_OK(streamlog_sub_close(s));
    streamlog_channel *dl = tu_chan(st, "dl", NULL);
    ck_assert_uint_eq(tu_stats(dl).msgs, 1);
    tu_expect_msg(dl, 1, "m1", 2);
    streamlog_channel_close(dl);
    streamlog_opts_free(o);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* ---- EEXIST ---- */

START_TEST(second_active_durable_same_process)
{
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    su_fill_to(ch, 3);
    streamlog_sub *a = durable(ch, "d", STREAMLOG_START_FIRST, 0);
    streamlog_opts *o = durable_opts("d", STREAMLOG_START_FIRST, 0);
    streamlog_sub *x = (streamlog_sub *)&o;
    TU_RC(streamlog_subscribe(ch, o, &x), STREAMLOG_EEXIST);
    ck_assert_ptr_eq(x, (streamlog_sub *)&o);
    /* through a second channel handle too */
    streamlog_channel *ch2 = tu_chan(st, "c", NULL);
    TU_RC(streamlog_subscribe(ch2, o, &x), STREAMLOG_EEXIST);
    ck_assert_uint_eq(tu_stats(ch).subs, 1);
    /* the active one is unharmed */
    SU_EXPECT(a, 0, 1, 0);
    TU_OK(streamlog_sub_close(a));
    streamlog_sub *b = su_subscribe(ch2, o);
    SU_EXPECT(b, 0, 1, 1);
    TU_RC(streamlog_subscribe(ch, o, &x), STREAMLOG_EEXIST);
    TU_OK(streamlog_sub_unsubscribe(b));
    b = su_subscribe(ch, o);
    TU_OK(streamlog_sub_close(b));
    streamlog_opts_free(o);
    streamlog_channel_close(ch2);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* A child that opens the store, subscribes durable "d" on "c", says so on
 * ready, then waits for a byte (or EOF) on release and closes cleanly. */
struct holder_arg {
    int go_r;     /* read: the parent has prepared the store */
    int ready_w;  /* write: subscribed */
    int release_r;
};

static void holder_main(void *p)
{
    struct holder_arg *a = p;
    char c;
    (void)tu_read_full(a->go_r, &c, 1);
    streamlog_store *st;
    streamlog_channel *ch;
    streamlog_sub *s;
    SU_CCHECK(streamlog_open(tu_store, NULL, &st));
    SU_CCHECK(streamlog_channel_open(st, "c", 0, NULL, &ch));
    streamlog_opts *o;
    SU_CCHECK(streamlog_opts_new(&o));
    SU_CCHECK(streamlog_opts_set_str(o, STREAMLOG_OPT_DURABLE, "d"));
    SU_CCHECK(streamlog_opts_set_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST));
    SU_CCHECK(streamlog_subscribe(ch, o, &s));
    streamlog_opts_free(o);
    const streamlog_msg *m;
    SU_CCHECK(streamlog_sub_next(s, 0, &m));
    SU_CASSERT(streamlog_msg_seq(m) == 1, "child got #%llu", (unsigned long long)streamlog_msg_seq(m));
    SU_CCHECK(streamlog_ack(s, 1));
    su_send(a->ready_w, 1);
    (void)tu_read_full(a->release_r, &c, 1);
    SU_CCHECK(streamlog_sub_close(s));
    streamlog_channel_close(ch);
    SU_CCHECK(streamlog_close(st));
}

START_TEST(second_active_durable_other_process)
{
    struct su_pipe go = su_pipe_new(), ready = su_pipe_new(), release = su_pipe_new();
    struct holder_arg a = {go.r, ready.w, release.r};
    struct su_child c = su_spawn(holder_main, &a, 60);
    close(go.r);
    close(ready.w);
    close(release.r);
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    su_fill_to(ch, 3);
    ck_assert_int_eq(tu_write_full(go.w, "g", 1), 0);
    uint64_t v;
    ck_assert_msg(su_recv(ready.r, &v) == 0, "the child did not subscribe");
    streamlog_opts *o = durable_opts("d", STREAMLOG_START_FIRST, 0);
    streamlog_sub *x = NULL;
    TU_RC(streamlog_subscribe(ch, o, &x), STREAMLOG_EEXIST);
    ck_assert_uint_eq(tu_stats(ch).subs, 1); /* counts the other process's subscription */
    ck_assert_int_eq(tu_write_full(release.w, "r", 1), 0);
    su_reap(c, "holder");
    ck_assert_uint_eq(tu_stats(ch).subs, 0);
    streamlog_sub *s = su_subscribe(ch, o); /* free again; resumes after the child's 1 */
    SU_EXPECT(s, 0, 2, 0);
    TU_OK(streamlog_sub_close(s));
    streamlog_opts_free(o);
    close(go.w);
    close(ready.r);
    close(release.w);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* ---- SIGKILL ---- */

/* A child that subscribes to durable "d" from the first message, takes
 * `deliver` messages, acks those listed, optionally calls sub_next(0) once
 * more (`more`: expecting EAGAIN when it has caught up, or a message), then
 * reports and waits to be killed. */
struct victim_arg {
    int go_r, ready_w;
    int deliver;
    uint64_t acks[8];
    int nacks;
    int more; /* 0: nothing; 1: sub_next(0) that must be EAGAIN; 2: one that must deliver */
};

static void victim_main(void *p)
{
    struct victim_arg *a = p;
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
    SU_CCHECK(streamlog_opts_set_str(o, STREAMLOG_OPT_DURABLE, "d"));
    SU_CCHECK(streamlog_opts_set_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST));
    SU_CCHECK(streamlog_opts_set_int(o, STREAMLOG_OPT_ACK_WAIT_MS, 60000));
    SU_CCHECK(streamlog_subscribe(ch, o, &s));
    streamlog_opts_free(o);
    const streamlog_msg *m;
    for (int i = 1; i <= a->deliver; i++) {
        SU_CCHECK(streamlog_sub_next(s, 0, &m));
        SU_CASSERT(streamlog_msg_seq(m) == (uint64_t)i, "child got #%llu, expected #%d",
                   (unsigned long long)streamlog_msg_seq(m), i);
    }
    for (int i = 0; i < a->nacks; i++)
        SU_CCHECK(streamlog_ack(s, a->acks[i]));
    if (a->more == 1)
        SU_CCHECK_RC(streamlog_sub_next(s, 0, &m), STREAMLOG_EAGAIN);
    else if (a->more == 2)
        SU_CCHECK(streamlog_sub_next(s, 0, &m));
    su_send(a->ready_w, 1);
    for (;;)
        pause(); /* killed here, holding the subscription */
}

/* Run a victim on a fresh store holding 1..n, kill it, return the store
 * and channel (open in this process). */
static void run_victim(struct victim_arg *va, uint64_t n, streamlog_store **st_out, streamlog_channel **ch_out)
{
    struct su_pipe go = su_pipe_new(), ready = su_pipe_new();
    va->go_r = go.r;
    va->ready_w = ready.w;
    struct su_child c = su_spawn(victim_main, va, 60);
    close(go.r);
    close(ready.w);
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    su_fill_to(ch, n);
    ck_assert_int_eq(tu_write_full(go.w, "g", 1), 0);
    uint64_t v;
    if (su_recv(ready.r, &v) != 0)
        su_reap(c, "victim"); /* reports the child's failure */
    /* while it lives, its durable is taken */
    streamlog_opts *o = durable_opts("d", STREAMLOG_START_FIRST, 0);
    streamlog_sub *x = NULL;
    TU_RC(streamlog_subscribe(ch, o, &x), STREAMLOG_EEXIST);
    streamlog_opts_free(o);
    su_kill(c);
    close(go.w);
    close(ready.r);
    *st_out = st;
    *ch_out = ch;
}

START_TEST(resume_after_sigkill)
{
    /* the victim takes 1..5, acks 1 and 2, catches up (acks written), dies */
    struct victim_arg va = {.deliver = 5, .acks = {1, 2}, .nacks = 2, .more = 1};
    streamlog_store *st;
    streamlog_channel *ch;
    run_victim(&va, 5, &st, &ch);
    su_fill_to(ch, 7);
    /* no EEXIST: the dead process's subscription is not active */
    streamlog_sub *s = durable(ch, "d", STREAMLOG_START_NEW_ONLY, 0);
    SU_EXPECT(s, 0, 3, 1);
    SU_EXPECT(s, 0, 4, 1);
    SU_EXPECT(s, 0, 5, 1);
    SU_EXPECT(s, 0, 6, 0);
    SU_EXPECT(s, 0, 7, 0);
    SU_NOTHING(s);
    TU_OK(streamlog_sub_close(s));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* After a crash, messages the dead subscriber had claimed but not received
 * are delivered in order; as the header says, the store cannot tell them from
 * delivered ones, so they come with a redelivery count of 1 (the victim's
 * first claim took all ten). */
START_TEST(sigkill_claimed_undelivered_come_back_in_order)
{
    struct victim_arg va = {.deliver = 2, .nacks = 0};
    streamlog_store *st;
    streamlog_channel *ch;
    run_victim(&va, 10, &st, &ch);
    streamlog_sub *s = durable(ch, "d", STREAMLOG_START_FIRST, 0);
    for (uint64_t q = 1; q <= 10; q++)
        SU_EXPECT(s, 0, q, 1);
    SU_NOTHING(s);
    TU_OK(streamlog_sub_close(s));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* The header: acks are written with the next claim. The victim takes the
 * whole first claim (256 messages), acks 1, takes #257 (a new claim) and
 * dies: the ack of 1 must have been written with that claim. */
START_TEST(sigkill_ack_written_with_next_claim)
{
    struct victim_arg va = {.deliver = 256, .acks = {1}, .nacks = 1, .more = 2};
    streamlog_store *st;
    streamlog_channel *ch;
    run_victim(&va, 300, &st, &ch);
    streamlog_sub *s = durable(ch, "d", STREAMLOG_START_FIRST, 0);
    uint32_t r;
    uint64_t first = su_next(s, 0, &r);
    ck_assert_msg(first == 2, "after the crash the durable delivered #%llu first: the ack of 1 was not written "
                  "with the next claim", (unsigned long long)first);
    TU_OK(streamlog_sub_close(s));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

static Suite *subs_durable_suite(void)
{
    Suite *s = suite_create("subs-durable");
    TCase *tc = tu_tcase("resume", 60);
    tcase_add_test(tc, resume_after_close);
    tcase_add_test(tc, resume_after_store_reopen);
    tcase_add_test(tc, start_position_applies_on_first_subscribe_only);
    tcase_add_test(tc, durables_are_per_channel_and_name);
    tcase_add_test(tc, unsubscribe_removes_state);
    tcase_add_test(tc, clean_close_keeps_every_ack);
    tcase_add_test(tc, auto_ack_durable_acks_last_at_close);
    tcase_add_test(tc, dead_lettered_is_not_resumed);
    suite_add_tcase(s, tc);

    tc = tu_tcase("exclusive", 60);
    tcase_add_test(tc, second_active_durable_same_process);
    tcase_add_test(tc, second_active_durable_other_process);
    suite_add_tcase(s, tc);

    tc = tu_tcase("crash", 60);
    tcase_add_test(tc, resume_after_sigkill);
    tcase_add_test(tc, sigkill_claimed_undelivered_come_back_in_order);
    tcase_add_test(tc, sigkill_ack_written_with_next_claim);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    return tu_run(subs_durable_suite());
}
