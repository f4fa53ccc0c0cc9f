/*
 * test_subs_basic.c - subscriptions in one process: start positions, order,
 * waiting (EAGAIN, ETIMEDOUT, -1 woken by another thread), acks (manual,
 * AUTO, NONE, idempotence), redelivery after the ack wait, MAX_INFLIGHT
 * stalls, MAX_DELIVER and the dead-letter channel, messages removed while
 * pending, the subscription fd, statistics, MAX_SUBS, bad input, and close
 * refusing while a subscription is open.
 *
 * Payloads are "m<seq>" (su_fill_to), checked on every delivery.
 */
#define _GNU_SOURCE
#include "subs_util.h"

#include <limits.h>

#include <pthread.h>
#include <stdatomic.h>

/* Subscribe with a start position and manual acks; ack wait 60 s unless set. */
static streamlog_sub *sub_at(streamlog_channel *ch, int start, int64_t value)
{
    streamlog_opts *o = su_opts();
    su_int(o, STREAMLOG_OPT_START, start);
    su_int(o, STREAMLOG_OPT_START_VALUE, value);
    su_int(o, STREAMLOG_OPT_ACK_WAIT_MS, 60000);
    streamlog_sub *s = su_subscribe(ch, o);
    streamlog_opts_free(o);
    return s;
}

/* Expect first..last in order as first deliveries, then nothing. */
static void expect_run(streamlog_sub *s, uint64_t first, uint64_t last)
{
    for (uint64_t q = first; q <= last; q++)
        SU_EXPECT(s, 0, q, 0);
    SU_NOTHING(s);
}

/* ---- start positions and order ---- */

START_TEST(start_new_only_is_default)
{
    struct su_fix f = su_fix_open(5);
    streamlog_sub *a = su_subscribe(f.ch, NULL); /* NULL opts: plain, NEW_ONLY */
    streamlog_opts *o = su_opts();
    su_int(o, STREAMLOG_OPT_ACK_MODE, STREAMLOG_ACK_MANUAL); /* no START set */
    streamlog_sub *b = su_subscribe(f.ch, o);
    streamlog_opts_free(o);
    streamlog_sub *c = sub_at(f.ch, STREAMLOG_START_NEW_ONLY, 0);
    SU_NOTHING(a);
    SU_NOTHING(b);
    SU_NOTHING(c);
    su_fill_to(f.ch, 7);
    expect_run(a, 6, 7);
    expect_run(b, 6, 7);
    expect_run(c, 6, 7);
    TU_OK(streamlog_sub_close(a));
    TU_OK(streamlog_sub_close(b));
    TU_OK(streamlog_sub_close(c));
    su_fix_close(&f);
}
END_TEST

START_TEST(start_positions)
{
    struct su_fix f = su_fix_open(0);
    su_fill_to(f.ch, 5);
    tu_sleep_ms(300); /* a gap in commit times between 5 and 6 */
    su_fill_to(f.ch, 10);
    streamlog_msg *m6 = NULL;
    TU_OK(streamlog_get(f.ch, 6, &m6));
    int64_t t6 = streamlog_msg_time(m6);
    streamlog_msg_free(m6);

    streamlog_sub *s;
    s = sub_at(f.ch, STREAMLOG_START_LAST_RECEIVED, 0);
    expect_run(s, 10, 10);
    TU_OK(streamlog_sub_close(s));

    s = sub_at(f.ch, STREAMLOG_START_FIRST, 0);
    expect_run(s, 1, 10);
    TU_OK(streamlog_sub_close(s));

    s = sub_at(f.ch, STREAMLOG_START_SEQUENCE, 4);
    expect_run(s, 4, 10);
    TU_OK(streamlog_sub_close(s));

    s = sub_at(f.ch, STREAMLOG_START_SEQUENCE, 0); /* below the first: the first */
    expect_run(s, 1, 10);
    TU_OK(streamlog_sub_close(s));

    s = sub_at(f.ch, STREAMLOG_START_SEQUENCE, 11); /* above the last: new only */
    SU_NOTHING(s);
    su_fill_to(f.ch, 11);
    expect_run(s, 11, 11);
    TU_OK(streamlog_sub_close(s));

    s = sub_at(f.ch, STREAMLOG_START_SEQUENCE, 500); /* far above: new only */
    SU_NOTHING(s);
    su_fill_to(f.ch, 12);
    expect_run(s, 12, 12);
    TU_OK(streamlog_sub_close(s));

    s = sub_at(f.ch, STREAMLOG_START_TIME, t6);
    expect_run(s, 6, 12);
    TU_OK(streamlog_sub_close(s));

    s = sub_at(f.ch, STREAMLOG_START_TIME, 0);
    expect_run(s, 1, 12);
    TU_OK(streamlog_sub_close(s));

    s = sub_at(f.ch, STREAMLOG_START_TIME, tu_now_ns() + 3600 * 1000000000LL); /* after the last: new only */
    SU_NOTHING(s);
    su_fill_to(f.ch, 13);
    expect_run(s, 13, 13);
    TU_OK(streamlog_sub_close(s));

    /* 6..13 are younger than (now - t6) + 150 ms; 1..5 are 300 ms older than 6 */
    int64_t delta = tu_now_ns() - t6 + 150 * 1000000LL;
    s = sub_at(f.ch, STREAMLOG_START_TIME_DELTA, delta);
    expect_run(s, 6, 13);
    TU_OK(streamlog_sub_close(s));

    s = sub_at(f.ch, STREAMLOG_START_TIME_DELTA, 0); /* no older than now: new only */
    SU_NOTHING(s);
    TU_OK(streamlog_sub_close(s));
    su_fix_close(&f);
}
END_TEST

START_TEST(start_first_after_retention)
{
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan1(st, "c", STREAMLOG_OPT_MAX_MSGS, 5);
    su_fill_to(ch, 10); /* 6..10 kept */
    streamlog_sub *s = sub_at(ch, STREAMLOG_START_FIRST, 0);
    expect_run(s, 6, 10);
    TU_OK(streamlog_sub_close(s));
    s = sub_at(ch, STREAMLOG_START_SEQUENCE, 2); /* removed: the first stored */
    expect_run(s, 6, 10);
    TU_OK(streamlog_sub_close(s));
    s = sub_at(ch, STREAMLOG_START_LAST_RECEIVED, 0);
    expect_run(s, 10, 10);
    TU_OK(streamlog_sub_close(s));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(delivery_in_order_large)
{
    struct su_fix f = su_fix_open(0);
    enum { N = 3000 };
    const void *data[N];
    size_t lens[N];
    char bufs[N][16];
    for (int i = 0; i < N; i++) {
        lens[i] = (size_t)snprintf(bufs[i], sizeof bufs[i], "m%d", i + 1);
        data[i] = bufs[i];
    }
    uint64_t first = 0;
    TU_OK(streamlog_append_batch(f.ch, data, lens, N, &first));
    ck_assert_uint_eq(first, 1);
    streamlog_opts *o = su_opts();
    su_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST);
    su_int(o, STREAMLOG_OPT_ACK_MODE, STREAMLOG_ACK_AUTO);
    streamlog_sub *s = su_subscribe(f.ch, o);
    streamlog_opts_free(o);
    expect_run(s, 1, N);
    TU_OK(streamlog_sub_close(s));
    su_fix_close(&f);
}
END_TEST

/* ---- waiting ---- */

START_TEST(timeout_zero_and_timed_out)
{
    struct su_fix f = su_fix_open(1);
    streamlog_sub *s = sub_at(f.ch, STREAMLOG_START_NEW_ONLY, 0);
    const streamlog_msg *m = (const streamlog_msg *)&f; /* sentinel: must stay untouched on failure */
    TU_RC(streamlog_sub_next(s, 0, &m), STREAMLOG_EAGAIN);
    ck_assert_ptr_eq(m, (const streamlog_msg *)&f);
    int64_t t0 = tu_mono_ms();
    TU_RC(streamlog_sub_next(s, 150, &m), STREAMLOG_ETIMEDOUT);
    int64_t took = tu_mono_ms() - t0;
    ck_assert_ptr_eq(m, (const streamlog_msg *)&f);
    ck_assert_msg(took >= 140 && took < 2000, "a 150 ms wait took %lld ms", (long long)took);
    /* a message that is there is returned at once, whatever the timeout */
    su_fill_to(f.ch, 2);
    t0 = tu_mono_ms();
    SU_EXPECT(s, 5000, 2, 0);
    ck_assert_int_lt(tu_mono_ms() - t0, 1000);
    TU_OK(streamlog_sub_close(s));
    su_fix_close(&f);
}
END_TEST

struct waiter_arg {
    streamlog_sub *sub;
    int64_t timeout;
    atomic_int done;
    int rc;
    uint64_t seq;
    uint32_t redel;
    int64_t at_ms; /* monotonic time of return */
};

static void *waiter_main(void *p)
{
    struct waiter_arg *a = p;
    const streamlog_msg *m = NULL;
    a->rc = streamlog_sub_next(a->sub, a->timeout, &m);
    if (a->rc == STREAMLOG_OK) {
        a->seq = streamlog_msg_seq(m);
        a->redel = streamlog_msg_redelivery_count(m);
    }
    a->at_ms = tu_mono_ms();
    atomic_store(&a->done, 1);
    return NULL;
}

START_TEST(wait_forever_woken_by_append_in_other_thread)
{
    struct su_fix f = su_fix_open(3);
    streamlog_sub *s = sub_at(f.ch, STREAMLOG_START_NEW_ONLY, 0);
    struct waiter_arg a = {.sub = s, .timeout = -1};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, waiter_main, &a), 0);
    tu_sleep_ms(200);
    ck_assert_msg(!atomic_load(&a.done), "sub_next(-1) returned (%s) with nothing to deliver", tu_name(a.rc));
    int64_t t0 = tu_mono_ms();
    su_fill_to(f.ch, 4);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    TU_OK(a.rc);
    ck_assert_uint_eq(a.seq, 4);
    ck_assert_msg(a.at_ms - t0 < 500, "woken %lld ms after the append", (long long)(a.at_ms - t0));
    TU_OK(streamlog_sub_close(s));
    su_fix_close(&f);
}
END_TEST

/* Timeouts too long for the clock (once: an overflow that timed out at
 * once) or for poll's int are waits like any other. A waiter that timed out
 * at once would return ETIMEDOUT; one that waits gets the message. (The
 * pause only makes the waiter likely to be waiting when the append comes;
 * the check does not depend on it.) */
START_TEST(huge_timeouts_wait)
{
    static const int64_t timeouts[] = { INT64_MAX, 9300000000000LL, (int64_t)INT_MAX + 5000 };
    struct su_fix f = su_fix_open(0);
    streamlog_sub *s = sub_at(f.ch, STREAMLOG_START_NEW_ONLY, 0);
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
        struct waiter_arg a = {.sub = s, .timeout = timeouts[i]};
        pthread_t th;
        ck_assert_int_eq(pthread_create(&th, NULL, waiter_main, &a), 0);
        tu_sleep_ms(100);
        su_fill_to(f.ch, i + 1);
        ck_assert_int_eq(pthread_join(th, NULL), 0);
        ck_assert_msg(a.rc == STREAMLOG_OK, "timeout %lld ms: %s", (long long)timeouts[i], tu_name(a.rc));
        ck_assert_uint_eq(a.seq, i + 1);
    }
    TU_OK(streamlog_sub_close(s));
    su_fix_close(&f);
}
END_TEST

START_TEST(wait_with_timeout_woken_by_append)
{
    struct su_fix f = su_fix_open(0);
    streamlog_sub *s = sub_at(f.ch, STREAMLOG_START_NEW_ONLY, 0);
    struct waiter_arg a = {.sub = s, .timeout = 10000};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, waiter_main, &a), 0);
    tu_sleep_ms(100);
    int64_t t0 = tu_mono_ms();
    su_fill_to(f.ch, 1);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    TU_OK(a.rc);
    ck_assert_uint_eq(a.seq, 1);
    ck_assert_int_lt(a.at_ms - t0, 500);
    TU_OK(streamlog_sub_close(s));
    su_fix_close(&f);
}
END_TEST

/* ---- acks ---- */

START_TEST(manual_acks_and_idempotence)
{
    struct su_fix f = su_fix_open(3);
    streamlog_opts *o = su_opts();
    su_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST);
    su_int(o, STREAMLOG_OPT_ACK_WAIT_MS, 150);
    streamlog_sub *s = su_subscribe(f.ch, o);
    streamlog_opts_free(o);
    expect_run(s, 1, 3);
    streamlog_sub_stats ss = su_stats(s);
    ck_assert_uint_eq(ss.pending, 3);
    ck_assert_uint_eq(ss.acked, 0);

    TU_OK(streamlog_ack(s, 2));
    ss = su_stats(s);
    ck_assert_uint_eq(ss.pending, 2);
    ck_assert_uint_eq(ss.acked, 1);
    TU_OK(streamlog_ack(s, 2)); /* again: no change */
    TU_OK(streamlog_ack(s, 999)); /* never delivered */
    TU_OK(streamlog_ack(s, 4)); /* not even stored yet */
    TU_OK(streamlog_ack(s, UINT64_MAX));
    ss = su_stats(s);
    ck_assert_uint_eq(ss.pending, 2);
    ck_assert_uint_eq(ss.acked, 1);
    TU_RC(streamlog_ack(s, 0), STREAMLOG_EINVAL);
    ck_assert_uint_eq(su_stats(s).pending, 2);

    /* after the ack wait only the unacked 1 and 3 come back */
    tu_sleep_ms(250);
    SU_EXPECT(s, 0, 1, 1);
    SU_EXPECT(s, 0, 3, 1);
    SU_NOTHING(s);
    TU_OK(streamlog_ack(s, 1));
    TU_OK(streamlog_ack(s, 3));
    ss = su_stats(s);
    ck_assert_uint_eq(ss.pending, 0);
    ck_assert_uint_eq(ss.acked, 3);
    tu_sleep_ms(250);
    SU_NOTHING(s);

    /* a message acked before it is delivered is still delivered (acks only end in-flight messages) */
    TU_OK(streamlog_ack(s, 4));
    su_fill_to(f.ch, 4);
    SU_EXPECT(s, 0, 4, 0);
    ck_assert_uint_eq(su_stats(s).pending, 1);
    TU_OK(streamlog_sub_close(s));
    su_fix_close(&f);
}
END_TEST

START_TEST(auto_ack_no_redelivery)
{
    struct su_fix f = su_fix_open(3);
    streamlog_opts *o = su_opts();
    su_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST);
    su_int(o, STREAMLOG_OPT_ACK_MODE, STREAMLOG_ACK_AUTO);
    su_int(o, STREAMLOG_OPT_ACK_WAIT_MS, 100);
    su_int(o, STREAMLOG_OPT_MAX_INFLIGHT, 1); /* AUTO acks the previous one, so it never stalls */
    streamlog_sub *s = su_subscribe(f.ch, o);
    streamlog_opts_free(o);
    SU_EXPECT(s, 0, 1, 0);
    ck_assert_uint_eq(su_stats(s).pending, 1); /* 1 is in flight until the next call */
    SU_EXPECT(s, 0, 2, 0);
    streamlog_sub_stats ss = su_stats(s);
    ck_assert_uint_eq(ss.pending, 1);
    ck_assert_uint_eq(ss.acked, 1);
    SU_EXPECT(s, 0, 3, 0);
    tu_sleep_ms(250); /* past the ack wait of 3: the next call acks it instead */
    SU_NOTHING(s);
    ss = su_stats(s);
    ck_assert_uint_eq(ss.pending, 0);
    ck_assert_uint_eq(ss.acked, 3);
    ck_assert_uint_eq(ss.redelivered, 0);
    tu_sleep_ms(150);
    SU_NOTHING(s);
    TU_OK(streamlog_sub_close(s));
    su_fix_close(&f);
}
END_TEST

START_TEST(ack_none_never_redelivered)
{
    struct su_fix f = su_fix_open(5);
    streamlog_opts *o = su_opts();
    su_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST);
    su_int(o, STREAMLOG_OPT_ACK_MODE, STREAMLOG_ACK_NONE);
    su_int(o, STREAMLOG_OPT_ACK_WAIT_MS, 50);
    su_int(o, STREAMLOG_OPT_MAX_INFLIGHT, 2); /* nothing is in flight in NONE mode */
    streamlog_sub *s = su_subscribe(f.ch, o);
    streamlog_opts_free(o);
    expect_run(s, 1, 5);
    streamlog_sub_stats ss = su_stats(s);
    ck_assert_uint_eq(ss.pending, 0);
    ck_assert_uint_eq(ss.stalled, 0);
    ck_assert_uint_eq(ss.delivered, 5);
    ck_assert_uint_eq(ss.last_delivered, 5);
    TU_OK(streamlog_ack(s, 3)); /* harmless */
    tu_sleep_ms(200);
    SU_NOTHING(s);
    su_fill_to(f.ch, 6);
    expect_run(s, 6, 6);
    TU_OK(streamlog_sub_close(s));
    su_fix_close(&f);
}
END_TEST

/* ---- redelivery ---- */

START_TEST(redelivery_after_ack_wait)
{
    struct su_fix f = su_fix_open(2);
    streamlog_opts *o = su_opts();
    su_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST);
    su_int(o, STREAMLOG_OPT_ACK_WAIT_MS, 100);
    streamlog_sub *s = su_subscribe(f.ch, o);
    streamlog_opts_free(o);
    SU_EXPECT(s, 0, 1, 0); /* not acked */
    SU_EXPECT(s, 0, 2, 0);
    TU_OK(streamlog_ack(s, 2));
    su_fill_to(f.ch, 4);
    tu_sleep_ms(150);
    /* due redelivery ahead of the new 3 and 4 */
    SU_EXPECT(s, 0, 1, 1);
    SU_EXPECT(s, 0, 3, 0);
    tu_sleep_ms(150);
    /* 1 (second redelivery) and 3 are due: in sequence order, ahead of 4 */
    SU_EXPECT(s, 0, 1, 2);
    SU_EXPECT(s, 0, 3, 1);
    SU_EXPECT(s, 0, 4, 0);
    SU_NOTHING(s);
    streamlog_sub_stats ss = su_stats(s);
    ck_assert_uint_eq(ss.delivered, 7);
    ck_assert_uint_eq(ss.redelivered, 3);
    ck_assert_uint_eq(ss.pending, 3);
    ck_assert_uint_eq(ss.last_delivered, 4);
    /* all three come due together: the lowest sequence first */
    SU_EXPECT(s, 2000, 1, 3);
    TU_OK(streamlog_sub_close(s));
    su_fix_close(&f);
}
END_TEST

START_TEST(redelivery_wakes_waiting_sub_next)
{
    struct su_fix f = su_fix_open(1);
    streamlog_opts *o = su_opts();
    su_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST);
    su_int(o, STREAMLOG_OPT_ACK_WAIT_MS, 200);
    streamlog_sub *s = su_subscribe(f.ch, o);
    streamlog_opts_free(o);
    int64_t t0 = tu_mono_ms();
    SU_EXPECT(s, 0, 1, 0);
    SU_EXPECT(s, 3000, 1, 1); /* sleeps until the deadline */
    int64_t took = tu_mono_ms() - t0;
    ck_assert_msg(took >= 190 && took < 1500, "redelivered after %lld ms, ack wait 200", (long long)took);
    t0 = tu_mono_ms();
    SU_EXPECT(s, -1, 1, 2);
    took = tu_mono_ms() - t0;
    ck_assert_msg(took >= 190 && took < 1500, "redelivered after %lld ms, ack wait 200", (long long)took);
    TU_OK(streamlog_ack(s, 1));
    TU_RC(streamlog_sub_next(s, 400, &(const streamlog_msg *){NULL}), STREAMLOG_ETIMEDOUT);
    TU_OK(streamlog_sub_close(s));
    su_fix_close(&f);
}
END_TEST

/* ---- max in flight ---- */

START_TEST(max_inflight_stall_and_resume)
{
    struct su_fix f = su_fix_open(5);
    streamlog_opts *o = su_opts();
    su_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST);
    su_int(o, STREAMLOG_OPT_MAX_INFLIGHT, 2);
    su_int(o, STREAMLOG_OPT_ACK_WAIT_MS, 60000);
    streamlog_sub *s = su_subscribe(f.ch, o);
    streamlog_opts_free(o);
    streamlog_sub_stats ss = su_stats(s);
    ck_assert_uint_eq(ss.stalled, 0);
    ck_assert_uint_eq(ss.max_inflight, 2);
    SU_EXPECT(s, 0, 1, 0);
    ck_assert_uint_eq(su_stats(s).stalled, 0);
    SU_EXPECT(s, 0, 2, 0);
    ss = su_stats(s);
    ck_assert_uint_eq(ss.stalled, 1);
    ck_assert_uint_eq(ss.pending, 2);
    SU_NOTHING(s); /* 3..5 are there but held back */
    TU_RC(streamlog_sub_next(s, 150, &(const streamlog_msg *){NULL}), STREAMLOG_ETIMEDOUT);
    TU_OK(streamlog_ack(s, 999)); /* an ack of nothing in flight does not resume */
    SU_NOTHING(s);
    TU_OK(streamlog_ack(s, 1));
    ck_assert_uint_eq(su_stats(s).stalled, 0);
    SU_EXPECT(s, 0, 3, 0);
    ck_assert_uint_eq(su_stats(s).stalled, 1);
    SU_NOTHING(s);
    TU_OK(streamlog_ack(s, 2));
    TU_OK(streamlog_ack(s, 3));
    SU_EXPECT(s, 0, 4, 0);
    SU_EXPECT(s, 0, 5, 0);
    SU_NOTHING(s);
    ss = su_stats(s);
    ck_assert_uint_eq(ss.stalled, 1);
    ck_assert_uint_eq(ss.last_delivered, 5);
    TU_OK(streamlog_sub_close(s));
    su_fix_close(&f);
}
END_TEST

START_TEST(stall_ended_by_ack_from_other_thread)
{
    struct su_fix f = su_fix_open(3);
    streamlog_opts *o = su_opts();
    su_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST);
    su_int(o, STREAMLOG_OPT_MAX_INFLIGHT, 1);
    su_int(o, STREAMLOG_OPT_ACK_WAIT_MS, 60000);
    streamlog_sub *s = su_subscribe(f.ch, o);
    streamlog_opts_free(o);
    SU_EXPECT(s, 0, 1, 0);
    struct waiter_arg a = {.sub = s, .timeout = -1};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, waiter_main, &a), 0);
    tu_sleep_ms(200);
    ck_assert_msg(!atomic_load(&a.done), "a stalled sub_next(-1) returned %s", tu_name(a.rc));
    int64_t t0 = tu_mono_ms();
    TU_OK(streamlog_ack(s, 1)); /* from this thread while the other waits */
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    TU_OK(a.rc);
    ck_assert_uint_eq(a.seq, 2);
    ck_assert_msg(a.at_ms - t0 < 500, "woken %lld ms after the ack", (long long)(a.at_ms - t0));
    TU_OK(streamlog_sub_close(s));
    su_fix_close(&f);
}
END_TEST

START_TEST(redeliveries_not_held_back_by_stall)
{
    struct su_fix f = su_fix_open(4);
    streamlog_opts *o = su_opts();
    su_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST);
    su_int(o, STREAMLOG_OPT_MAX_INFLIGHT, 2);
    su_int(o, STREAMLOG_OPT_ACK_WAIT_MS, 100);
    streamlog_sub *s = su_subscribe(f.ch, o);
    streamlog_opts_free(o);
    SU_EXPECT(s, 0, 1, 0);
    SU_EXPECT(s, 0, 2, 0);
    SU_NOTHING(s);
    tu_sleep_ms(150);
    ck_assert_uint_eq(su_stats(s).stalled, 1);
    SU_EXPECT(s, 0, 1, 1);
    SU_EXPECT(s, 0, 2, 1);
    SU_NOTHING(s); /* still stalled: 3 stays back */
    SU_EXPECT(s, 2000, 1, 2); /* waits for the next deadline, not for an ack */
    SU_EXPECT(s, 500, 2, 2);
    TU_OK(streamlog_ack(s, 1));
    TU_OK(streamlog_ack(s, 2));
    SU_EXPECT(s, 0, 3, 0);
    TU_OK(streamlog_sub_close(s));
    su_fix_close(&f);
}
END_TEST

/* ---- max deliver ---- */

START_TEST(max_deliver_to_dead_letter)
{
    struct su_fix f = su_fix_open(3);
    streamlog_channel *tmp = NULL;
    TU_RC(streamlog_channel_open(f.st, "dead.c", 0, NULL, &tmp), STREAMLOG_ENOTFOUND);
    streamlog_opts *o = su_opts();
    su_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST);
    su_int(o, STREAMLOG_OPT_ACK_WAIT_MS, 80);
    su_int(o, STREAMLOG_OPT_MAX_DELIVER, 2);
    su_str(o, STREAMLOG_OPT_DEAD_LETTER, "dead.c");
    streamlog_sub *s = su_subscribe(f.ch, o);
    streamlog_opts_free(o);
    streamlog_channel *dl = NULL;
    TU_OK(streamlog_channel_open(f.st, "dead.c", 0, NULL, &dl)); /* created by subscribe */
    ck_assert_uint_eq(tu_stats(dl).msgs, 0);

    SU_EXPECT(s, 0, 1, 0);
    SU_EXPECT(s, 0, 2, 0);
    SU_EXPECT(s, 0, 3, 0);
    TU_OK(streamlog_ack(s, 2));
    tu_sleep_ms(120);
    SU_EXPECT(s, 0, 1, 1); /* second delivery */
    SU_EXPECT(s, 0, 3, 1);
    TU_OK(streamlog_ack(s, 3));
    ck_assert_uint_eq(tu_stats(dl).msgs, 0);
    tu_sleep_ms(120);
    /* 1 has had its 2 deliveries: dead-lettered, counts as acked */
    SU_NOTHING(s);
    streamlog_sub_stats ss = su_stats(s);
    ck_assert_uint_eq(ss.dead_lettered, 1);
    ck_assert_uint_eq(ss.pending, 0);
    streamlog_channel_stats ds = tu_stats(dl);
    ck_assert_uint_eq(ds.msgs, 1);
    tu_expect_msg(dl, ds.last_seq, "m1", 2);
    /* its origin travels in headers */
    streamlog_msg *dm;
    TU_OK(streamlog_get(dl, ds.last_seq, &dm));
    static const char *const want[][2] = { { "Streamlog-Origin-Channel", "c" }, { "Streamlog-Origin-Seq", "1" },
                                           { "Streamlog-Deliveries", "2" }, { "Streamlog-Reason", "max_deliver" } };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const void *v;
        size_t vl;
        TU_OK(streamlog_msg_header(dm, want[i][0], &v, &vl));
        ck_assert_msg(vl == strlen(want[i][1]) && memcmp(v, want[i][1], vl) == 0, "%s: %.*s", want[i][0], (int)vl,
                      (const char *)v);
    }
    const void *v;
    size_t vl;
    TU_OK(streamlog_msg_header(dm, "Streamlog-Origin-Time", &v, &vl));
    ck_assert_uint_gt(vl, 10);
    streamlog_msg_free(dm);
    tu_sleep_ms(200);
    SU_NOTHING(s); /* never again */
    ck_assert_uint_eq(tu_stats(dl).msgs, 1);
    su_fill_to(f.ch, 4);
    SU_EXPECT(s, 0, 4, 0);
    TU_OK(streamlog_sub_close(s));
    streamlog_channel_close(dl);
    su_fix_close(&f);
}
END_TEST

START_TEST(max_deliver_without_dead_letter)
{
    struct su_fix f = su_fix_open(1);
    streamlog_opts *o = su_opts();
    su_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST);
    su_int(o, STREAMLOG_OPT_ACK_WAIT_MS, 60);
    su_int(o, STREAMLOG_OPT_MAX_DELIVER, 1);
    su_int(o, STREAMLOG_OPT_MAX_INFLIGHT, 1);
    streamlog_sub *s = su_subscribe(f.ch, o);
    streamlog_opts_free(o);
    SU_EXPECT(s, 0, 1, 0);
    su_fill_to(f.ch, 2);
    SU_NOTHING(s); /* stalled on 1 */
    tu_sleep_ms(100);
    /* 1 is dropped (counts as acked), which ends the stall */
    SU_EXPECT(s, 0, 2, 0);
    streamlog_sub_stats ss = su_stats(s);
    ck_assert_uint_eq(ss.dead_lettered, 1);
    ck_assert_uint_eq(ss.pending, 1);
    TU_OK(streamlog_ack(s, 2));
    tu_sleep_ms(100);
    SU_NOTHING(s);
    TU_OK(streamlog_sub_close(s));
    su_fix_close(&f);
}
END_TEST

/* ---- removed while pending ---- */

static void removed_while_pending(int durable)
{
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan1(st, "c", STREAMLOG_OPT_MAX_MSGS, 3);
    su_fill_to(ch, 3);
    streamlog_opts *o = su_opts();
    su_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST);
    su_int(o, STREAMLOG_OPT_ACK_WAIT_MS, 100);
    if (durable)
        su_str(o, STREAMLOG_OPT_DURABLE, "d");
    streamlog_sub *s = su_subscribe(ch, o);
    streamlog_opts_free(o);
    expect_run(s, 1, 3); /* 1 stays in flight, never acked */
    TU_OK(streamlog_ack(s, 2));
    TU_OK(streamlog_ack(s, 3));
    su_fill_to(ch, 6); /* 1..3 removed, 1 while in flight */
    tu_sleep_ms(150);
    /* 1 came due but is gone: skipped without error */
    SU_EXPECT(s, 0, 4, 0);
    SU_EXPECT(s, 0, 5, 0);
    SU_EXPECT(s, 0, 6, 0);
    SU_NOTHING(s);
    TU_OK(streamlog_ack(s, 4));
    TU_OK(streamlog_ack(s, 5));
    TU_OK(streamlog_ack(s, 6));
    ck_assert_uint_eq(su_stats(s).pending, 0);
    tu_sleep_ms(150);
    SU_NOTHING(s);
    TU_OK(streamlog_sub_close(s));
    if (durable) { /* and nothing of it is left for the durable's next life */
        o = su_opts();
        su_str(o, STREAMLOG_OPT_DURABLE, "d");
        s = su_subscribe(ch, o);
        streamlog_opts_free(o);
        SU_NOTHING(s);
        ck_assert_uint_eq(su_stats(s).pending, 0);
        TU_OK(streamlog_sub_unsubscribe(s));
    }
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}

START_TEST(removed_by_max_msgs_while_pending_plain)
{
    removed_while_pending(0);
}
END_TEST

START_TEST(removed_by_max_msgs_while_pending_durable)
{
    removed_while_pending(1);
}
END_TEST

START_TEST(expired_while_pending)
{
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan1(st, "c", STREAMLOG_OPT_MAX_AGE_MS, 150);
    su_fill_to(ch, 1);
    streamlog_opts *o = su_opts();
    su_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST);
    su_int(o, STREAMLOG_OPT_ACK_WAIT_MS, 250);
    streamlog_sub *s = su_subscribe(ch, o);
    streamlog_opts_free(o);
    SU_EXPECT(s, 0, 1, 0);
    SU_NOTHING(s);
    tu_sleep_ms(400); /* 1 expires, then its ack wait runs out */
    su_fill_to(ch, 2);
    SU_EXPECT(s, 0, 2, 0);
    SU_NOTHING(s);
    ck_assert_uint_eq(su_stats(s).pending, 1);
    TU_OK(streamlog_sub_close(s));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* Messages not yet delivered that are removed or expire before the next
 * sub_next are not delivered (as for iterators), however long ago the
 * subscription read its previous message. */
START_TEST(removed_before_delivery_not_delivered)
{
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan1(st, "c", STREAMLOG_OPT_MAX_MSGS, 3);
    su_fill_to(ch, 3);
    streamlog_sub *s = sub_at(ch, STREAMLOG_START_FIRST, 0);
    SU_EXPECT(s, 0, 1, 0);
    su_fill_to(ch, 6); /* 1..3 removed before 2 and 3 were delivered */
    SU_EXPECT(s, 0, 4, 0);
    TU_OK(streamlog_sub_close(s));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(expired_before_delivery_not_delivered)
{
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan1(st, "c", STREAMLOG_OPT_MAX_AGE_MS, 150);
    su_fill_to(ch, 2);
    streamlog_sub *s = sub_at(ch, STREAMLOG_START_FIRST, 0);
    SU_EXPECT(s, 0, 1, 0);
    tu_sleep_ms(400); /* 2 expired 250 ms ago */
    SU_NOTHING(s);
    TU_OK(streamlog_sub_close(s));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* ---- the subscription fd ---- */

/* After draining, the fd may report a few stale wakeups (each answered by
 * EAGAIN), but it must fall quiet: an idle subscriber costs no CPU. */
static void expect_quiet(streamlog_sub *s, int fd)
{
    int spurious = 0;
    while (su_readable(fd, 100)) {
        SU_NOTHING(s);
        ck_assert_msg(++spurious < 5, "fd stays readable with nothing to deliver");
    }
}

START_TEST(sub_fd_readable_after_append)
{
    struct su_fix f = su_fix_open(0);
    streamlog_sub *s = sub_at(f.ch, STREAMLOG_START_NEW_ONLY, 0);
    int fd = streamlog_sub_fd(s);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(streamlog_sub_fd(s), fd); /* the same fd for the subscription's life */
    SU_NOTHING(s);
    ck_assert_msg(!su_readable(fd, 0), "fd readable with nothing to deliver (an event loop would spin)");
    su_fill_to(f.ch, 1);
    ck_assert_msg(su_readable(fd, 1000), "fd not readable after an append");
    SU_EXPECT(s, 0, 1, 0);
    SU_NOTHING(s);
    expect_quiet(s, fd);
    TU_OK(streamlog_ack(s, 1));
    su_fill_to(f.ch, 3);
    ck_assert(su_readable(fd, 1000));
    SU_EXPECT(s, 0, 2, 0);
    SU_EXPECT(s, 0, 3, 0);
    SU_NOTHING(s);
    TU_OK(streamlog_sub_close(s));
    su_fix_close(&f);
}
END_TEST

START_TEST(sub_fd_readable_at_redelivery_deadline)
{
    struct su_fix f = su_fix_open(1);
    streamlog_opts *o = su_opts();
    su_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST);
    su_int(o, STREAMLOG_OPT_ACK_WAIT_MS, 200);
    streamlog_sub *s = su_subscribe(f.ch, o);
    streamlog_opts_free(o);
    int fd = streamlog_sub_fd(s);
    /* the event-loop pattern: drain with timeout 0, then poll the fd */
    int64_t t0 = tu_mono_ms();
    SU_EXPECT(s, 0, 1, 0);
    SU_NOTHING(s);
    int ready = su_readable(fd, 3000);
    int64_t took = tu_mono_ms() - t0;
    ck_assert_msg(ready, "fd not readable within 3 s of a 200 ms redelivery deadline");
    ck_assert_msg(took >= 150, "fd readable after %lld ms, before the 200 ms deadline", (long long)took);
    SU_EXPECT(s, 0, 1, 1);
    TU_OK(streamlog_ack(s, 1));
    SU_NOTHING(s);
    expect_quiet(s, fd);
    TU_OK(streamlog_sub_close(s));
    su_fix_close(&f);
}
END_TEST

START_TEST(sub_fd_readable_when_ack_ends_stall)
{
    struct su_fix f = su_fix_open(2);
    streamlog_opts *o = su_opts();
    su_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST);
    su_int(o, STREAMLOG_OPT_MAX_INFLIGHT, 1);
    su_int(o, STREAMLOG_OPT_ACK_WAIT_MS, 60000);
    streamlog_sub *s = su_subscribe(f.ch, o);
    streamlog_opts_free(o);
    int fd = streamlog_sub_fd(s);
    SU_EXPECT(s, 0, 1, 0);
    SU_NOTHING(s);
    expect_quiet(s, fd);
    TU_OK(streamlog_ack(s, 1));
    ck_assert_msg(su_readable(fd, 1000), "fd not readable after an ack ended the stall");
    SU_EXPECT(s, 0, 2, 0);
    TU_OK(streamlog_sub_close(s));
    su_fix_close(&f);
}
END_TEST

/* ---- statistics ---- */

START_TEST(stats_follow_deliveries)
{
    struct su_fix f = su_fix_open(0);
    streamlog_opts *o = su_opts();
    su_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST);
    su_int(o, STREAMLOG_OPT_MAX_INFLIGHT, 3);
    su_int(o, STREAMLOG_OPT_ACK_WAIT_MS, 60000);
    streamlog_sub *s = su_subscribe(f.ch, o);
    streamlog_opts_free(o);
    streamlog_sub_stats ss = su_stats(s);
    ck_assert_uint_eq(ss.pending, 0);
    ck_assert_uint_eq(ss.last_delivered, 0);
    ck_assert_uint_eq(ss.next_seq, 1);
    ck_assert_uint_eq(ss.delivered, 0);
    ck_assert_uint_eq(ss.redelivered, 0);
    ck_assert_uint_eq(ss.acked, 0);
    ck_assert_uint_eq(ss.dead_lettered, 0);
    ck_assert_uint_eq(ss.stalled, 0);
    ck_assert_uint_eq(ss.max_inflight, 3);
    su_fill_to(f.ch, 5);
    SU_EXPECT(s, 0, 1, 0);
    SU_EXPECT(s, 0, 2, 0);
    ss = su_stats(s);
    ck_assert_uint_eq(ss.pending, 2);
    ck_assert_uint_eq(ss.last_delivered, 2);
    ck_assert_uint_eq(ss.next_seq, 3);
    ck_assert_uint_eq(ss.delivered, 2);
    ck_assert_uint_eq(ss.stalled, 0);
    SU_EXPECT(s, 0, 3, 0);
    ss = su_stats(s);
    ck_assert_uint_eq(ss.pending, 3);
    ck_assert_uint_eq(ss.stalled, 1);
    ck_assert_uint_eq(ss.last_delivered, 3);
    TU_OK(streamlog_ack(s, 2));
    ss = su_stats(s);
    ck_assert_uint_eq(ss.pending, 2);
    ck_assert_uint_eq(ss.acked, 1);
    ck_assert_uint_eq(ss.stalled, 0);
    ck_assert_uint_eq(ss.last_delivered, 3);

    /* the default max in flight is 1024 */
    streamlog_sub *d = su_subscribe(f.ch, NULL);
    ck_assert_uint_eq(su_stats(d).max_inflight, 1024);
    ck_assert_uint_eq(su_stats(d).next_seq, 6);
    TU_OK(streamlog_sub_close(d));
    TU_OK(streamlog_sub_close(s));
    su_fix_close(&f);
}
END_TEST

START_TEST(channel_stats_count_subscriptions)
{
    struct su_fix f = su_fix_open(0);
    streamlog_channel *other = tu_chan(f.st, "other", NULL);
    ck_assert_uint_eq(tu_stats(f.ch).subs, 0);
    streamlog_sub *a = su_subscribe(f.ch, NULL);
    ck_assert_uint_eq(tu_stats(f.ch).subs, 1);
    streamlog_opts *o = su_opts();
    su_str(o, STREAMLOG_OPT_DURABLE, "d");
    streamlog_sub *b = su_subscribe(f.ch, o);
    streamlog_opts_free(o);
    o = su_opts();
    su_str(o, STREAMLOG_OPT_QUEUE, "q");
    streamlog_sub *c = su_subscribe(f.ch, o);
    streamlog_sub *c2 = su_subscribe(f.ch, o);
    streamlog_opts_free(o);
    ck_assert_uint_eq(tu_stats(f.ch).subs, 4); /* every member counts */
    ck_assert_uint_eq(tu_stats(other).subs, 0);
    TU_OK(streamlog_sub_close(b)); /* a closed durable is not active */
    ck_assert_uint_eq(tu_stats(f.ch).subs, 3);
    TU_OK(streamlog_sub_close(a));
    TU_OK(streamlog_sub_unsubscribe(c));
    TU_OK(streamlog_sub_close(c2));
    ck_assert_uint_eq(tu_stats(f.ch).subs, 0);
    streamlog_channel_close(other);
    su_fix_close(&f);
}
END_TEST

START_TEST(max_subs_limit)
{
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan1(st, "c", STREAMLOG_OPT_MAX_SUBS, 2);
    streamlog_sub *a = su_subscribe(ch, NULL);
    streamlog_opts *o = su_opts();
    su_str(o, STREAMLOG_OPT_DURABLE, "d");
    streamlog_sub *b = su_subscribe(ch, o);
    streamlog_sub *x = (streamlog_sub *)&o; /* sentinel */
    TU_RC(streamlog_subscribe(ch, NULL, &x), STREAMLOG_ELIMIT);
    ck_assert_ptr_eq(x, (streamlog_sub *)&o);
    streamlog_opts *q = su_opts();
    su_str(q, STREAMLOG_OPT_QUEUE, "q");
    TU_RC(streamlog_subscribe(ch, q, &x), STREAMLOG_ELIMIT);
    ck_assert_uint_eq(tu_stats(ch).subs, 2);
    TU_OK(streamlog_sub_close(b));
    streamlog_sub *c = su_subscribe(ch, q); /* room again */
    TU_RC(streamlog_subscribe(ch, o, &x), STREAMLOG_ELIMIT); /* resuming the durable counts too */
    TU_OK(streamlog_sub_close(c));
    b = su_subscribe(ch, o);
    TU_OK(streamlog_sub_close(b));
    TU_OK(streamlog_sub_close(a));
    streamlog_opts_free(o);
    streamlog_opts_free(q);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));

    /* a store-wide default applies to channels without their own */
    st = tu_open2(STREAMLOG_OPT_SYNC, STREAMLOG_SYNC_NONE, STREAMLOG_OPT_MAX_SUBS, 1);
    ch = tu_chan(st, "fresh", NULL);
    a = su_subscribe(ch, NULL);
    TU_RC(streamlog_subscribe(ch, NULL, &x), STREAMLOG_ELIMIT);
    TU_OK(streamlog_sub_close(a));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* ---- bad input ---- */

START_TEST(bad_options)
{
    streamlog_opts *o = su_opts();
    /* start value negative */
    TU_RC(streamlog_opts_set_int(o, STREAMLOG_OPT_START_VALUE, -1), STREAMLOG_EINVAL);
    TU_RC(streamlog_opts_set_int(o, STREAMLOG_OPT_START_VALUE, INT64_MIN), STREAMLOG_EINVAL);
    TU_OK(streamlog_opts_set_int(o, STREAMLOG_OPT_START_VALUE, INT64_MAX));
    /* start positions */
    TU_RC(streamlog_opts_set_int(o, STREAMLOG_OPT_START, -1), STREAMLOG_EINVAL);
    TU_RC(streamlog_opts_set_int(o, STREAMLOG_OPT_START, STREAMLOG_START_TIME + 1), STREAMLOG_EINVAL);
    for (int p = STREAMLOG_START_NEW_ONLY; p <= STREAMLOG_START_TIME; p++)
        TU_OK(streamlog_opts_set_int(o, STREAMLOG_OPT_START, p));
    /* max in flight 1..1048576 */
    TU_RC(streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_INFLIGHT, 0), STREAMLOG_EINVAL);
    TU_RC(streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_INFLIGHT, -5), STREAMLOG_EINVAL);
    TU_RC(streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_INFLIGHT, 1048577), STREAMLOG_EINVAL);
    TU_OK(streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_INFLIGHT, 1));
    TU_OK(streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_INFLIGHT, 1048576));
    /* ack wait 1..86400000 */
    TU_RC(streamlog_opts_set_int(o, STREAMLOG_OPT_ACK_WAIT_MS, 0), STREAMLOG_EINVAL);
    TU_RC(streamlog_opts_set_int(o, STREAMLOG_OPT_ACK_WAIT_MS, -1), STREAMLOG_EINVAL);
    TU_RC(streamlog_opts_set_int(o, STREAMLOG_OPT_ACK_WAIT_MS, 86400001), STREAMLOG_EINVAL);
    TU_OK(streamlog_opts_set_int(o, STREAMLOG_OPT_ACK_WAIT_MS, 86400000));
    /* ack modes */
    TU_RC(streamlog_opts_set_int(o, STREAMLOG_OPT_ACK_MODE, -1), STREAMLOG_EINVAL);
    TU_RC(streamlog_opts_set_int(o, STREAMLOG_OPT_ACK_MODE, 3), STREAMLOG_EINVAL);
    TU_OK(streamlog_opts_set_int(o, STREAMLOG_OPT_ACK_MODE, STREAMLOG_ACK_NONE));
    /* max deliver >= 0 */
    TU_RC(streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_DELIVER, -1), STREAMLOG_EINVAL);
    TU_OK(streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_DELIVER, 0));
    /* types: string keys take strings, integer keys integers */
    TU_RC(streamlog_opts_set_int(o, STREAMLOG_OPT_DURABLE, 1), STREAMLOG_EINVAL);
    TU_RC(streamlog_opts_set_int(o, STREAMLOG_OPT_QUEUE, 1), STREAMLOG_EINVAL);
    TU_RC(streamlog_opts_set_int(o, STREAMLOG_OPT_DEAD_LETTER, 1), STREAMLOG_EINVAL);
    TU_RC(streamlog_opts_set_str(o, STREAMLOG_OPT_START, "4"), STREAMLOG_EINVAL);
    TU_RC(streamlog_opts_set_str(o, STREAMLOG_OPT_MAX_INFLIGHT, "4"), STREAMLOG_EINVAL);
    TU_RC(streamlog_opts_set_str(o, STREAMLOG_OPT_DURABLE, NULL), STREAMLOG_EINVAL);
    TU_RC(streamlog_opts_set_str(NULL, STREAMLOG_OPT_DURABLE, "d"), STREAMLOG_EINVAL);
    TU_RC(streamlog_opts_set_int(NULL, STREAMLOG_OPT_START, 0), STREAMLOG_EINVAL);
    streamlog_opts_free(o);
}
END_TEST

/* Subscribing with opts must fail with EINVAL and change nothing. */
static void subscribe_rejected(streamlog_channel *ch, streamlog_opts *o, const char *what)
{
    streamlog_sub *x = (streamlog_sub *)&x; /* sentinel */
    int rc = streamlog_subscribe(ch, o, &x);
    ck_assert_msg(rc == STREAMLOG_EINVAL, "%s: subscribe gave %s, expected EINVAL", what, tu_name(rc));
    ck_assert_msg(x == (streamlog_sub *)&x, "%s: *out written on failure", what);
    ck_assert_msg(streamlog_errmsg()[0] != '\0', "%s: no error message", what);
    ck_assert_uint_eq(tu_stats(ch).subs, 0);
    streamlog_opts_free(o);
}

/* A string option that set_str may refuse or subscribe must refuse. */
static void string_rejected(streamlog_channel *ch, int key, const char *value, const char *what)
{
    streamlog_opts *o = su_opts();
    int rc = streamlog_opts_set_str(o, key, value);
    if (rc == STREAMLOG_OK) {
        subscribe_rejected(ch, o, what);
        return;
    }
    ck_assert_msg(rc == STREAMLOG_EINVAL, "%s: set_str gave %s", what, tu_name(rc));
    streamlog_opts_free(o);
}

START_TEST(bad_subscribe)
{
    struct su_fix f = su_fix_open(1);
    streamlog_sub *x = (streamlog_sub *)&x;
    TU_RC(streamlog_subscribe(NULL, NULL, &x), STREAMLOG_EINVAL);
    TU_RC(streamlog_subscribe(f.ch, NULL, NULL), STREAMLOG_EINVAL);
    ck_assert_ptr_eq(x, (streamlog_sub *)&x);

    /* keys that do not apply to subscribe: store keys and limit keys */
    streamlog_opts *o = su_opts();
    su_int(o, STREAMLOG_OPT_SYNC, STREAMLOG_SYNC_NONE);
    subscribe_rejected(f.ch, o, "store key SYNC");
    o = su_opts();
    su_int(o, STREAMLOG_OPT_MAX_PAYLOAD, 10);
    su_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST);
    subscribe_rejected(f.ch, o, "store key MAX_PAYLOAD");
    o = su_opts();
    su_int(o, STREAMLOG_OPT_MAX_MSGS, 10);
    subscribe_rejected(f.ch, o, "limit key MAX_MSGS");
    o = su_opts();
    su_int(o, STREAMLOG_OPT_MAX_SUBS, 10);
    subscribe_rejected(f.ch, o, "limit key MAX_SUBS");

    /* durable and queue names: 1..200 bytes, no ':' */
    char longname[300];
    memset(longname, 'n', sizeof longname);
    longname[201] = '\0';
    string_rejected(f.ch, STREAMLOG_OPT_DURABLE, "", "empty durable");
    string_rejected(f.ch, STREAMLOG_OPT_DURABLE, "a:b", "durable with ':'");
    string_rejected(f.ch, STREAMLOG_OPT_DURABLE, ":", "durable ':'");
    string_rejected(f.ch, STREAMLOG_OPT_DURABLE, longname, "durable of 201 bytes");
    string_rejected(f.ch, STREAMLOG_OPT_QUEUE, "", "empty queue");
    string_rejected(f.ch, STREAMLOG_OPT_QUEUE, "q:1", "queue with ':'");
    string_rejected(f.ch, STREAMLOG_OPT_QUEUE, longname, "queue of 201 bytes");

    /* dead letter: a valid channel name other than the channel itself */
    string_rejected(f.ch, STREAMLOG_OPT_DEAD_LETTER, "c", "dead letter == channel");
    string_rejected(f.ch, STREAMLOG_OPT_DEAD_LETTER, "a..b", "dead letter with an empty token");
    string_rejected(f.ch, STREAMLOG_OPT_DEAD_LETTER, "dead.*", "dead letter with a wildcard");
    string_rejected(f.ch, STREAMLOG_OPT_DEAD_LETTER, "dead letter", "dead letter with a space");
    string_rejected(f.ch, STREAMLOG_OPT_DEAD_LETTER, "", "empty dead letter");
    streamlog_channel *tmp = NULL;
    TU_RC(streamlog_channel_open(f.st, "a..b", 0, NULL, &tmp), STREAMLOG_EINVAL);
    ck_assert_uint_eq(tu_stats(f.ch).subs, 0);

    /* the documented maximum, 200 bytes, is accepted for both names */
    longname[200] = '\0';
    o = su_opts();
    su_str(o, STREAMLOG_OPT_DURABLE, longname);
    su_str(o, STREAMLOG_OPT_QUEUE, longname);
    streamlog_sub *s = su_subscribe(f.ch, o);
    streamlog_opts_free(o);
    TU_OK(streamlog_sub_unsubscribe(s));
    su_fix_close(&f);
}
END_TEST

START_TEST(failed_subscribe_changes_nothing)
{
    struct su_fix f = su_fix_open(1);
    streamlog_opts *o = su_opts();
    su_str(o, STREAMLOG_OPT_DURABLE, "d");
    streamlog_sub *a = su_subscribe(f.ch, o);
    /* EEXIST (durable active) with a dead-letter channel that does not exist */
    su_str(o, STREAMLOG_OPT_DEAD_LETTER, "dl.never");
    streamlog_sub *x = NULL;
    TU_RC(streamlog_subscribe(f.ch, o, &x), STREAMLOG_EEXIST);
    streamlog_opts_free(o);
    ck_assert_uint_eq(tu_stats(f.ch).subs, 1);
    streamlog_channel *tmp = NULL;
    int rc = streamlog_channel_open(f.st, "dl.never", 0, NULL, &tmp);
    if (rc == STREAMLOG_OK)
        streamlog_channel_close(tmp);
    ck_assert_msg(rc == STREAMLOG_ENOTFOUND, "a subscribe that failed (EEXIST) created its dead-letter channel");
    TU_OK(streamlog_sub_close(a));
    su_fix_close(&f);
}
END_TEST

START_TEST(bad_calls_on_subscriptions)
{
    struct su_fix f = su_fix_open(1);
    streamlog_sub *s = sub_at(f.ch, STREAMLOG_START_FIRST, 0);
    const streamlog_msg *m = (const streamlog_msg *)&f;
    TU_RC(streamlog_sub_next(NULL, 0, &m), STREAMLOG_EINVAL);
    TU_RC(streamlog_sub_next(s, 0, NULL), STREAMLOG_EINVAL);
    TU_RC(streamlog_sub_next(s, -2, &m), STREAMLOG_EINVAL);
    TU_RC(streamlog_sub_next(s, INT64_MIN, &m), STREAMLOG_EINVAL);
    ck_assert_ptr_eq(m, (const streamlog_msg *)&f);
    TU_RC(streamlog_ack(NULL, 1), STREAMLOG_EINVAL);
    TU_RC(streamlog_ack(s, 0), STREAMLOG_EINVAL);
    TU_RC(streamlog_sub_fd(NULL), STREAMLOG_EINVAL);
    TU_RC(streamlog_sub_close(NULL), STREAMLOG_EINVAL);
    TU_RC(streamlog_sub_unsubscribe(NULL), STREAMLOG_EINVAL);
    streamlog_sub_stats ss;
    TU_RC(streamlog_sub_get_stats(NULL, &ss), STREAMLOG_EINVAL);
    TU_RC(streamlog_sub_get_stats(s, NULL), STREAMLOG_EINVAL);
    ck_assert_uint_eq(streamlog_msg_redelivery_count(NULL), 0);
    /* the subscription still works after all that */
    SU_EXPECT(s, 0, 1, 0);
    TU_OK(streamlog_sub_close(s));
    su_fix_close(&f);
}
END_TEST

START_TEST(store_close_busy_while_subscribed)
{
    struct su_fix f = su_fix_open(1);
    streamlog_sub *s = sub_at(f.ch, STREAMLOG_START_FIRST, 0);
    streamlog_channel_close(f.ch); /* the subscription keeps working without its channel handle */
    TU_RC(streamlog_close(f.st), STREAMLOG_EBUSY);
    SU_EXPECT(s, 0, 1, 0);
    TU_OK(streamlog_sub_close(s));
    TU_OK(streamlog_close(f.st));
}
END_TEST

START_TEST(channel_deleted_under_subscription)
{
    struct su_fix f = su_fix_open(1);
    streamlog_opts *o = su_opts();
    su_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST);
    su_str(o, STREAMLOG_OPT_DURABLE, "d");
    streamlog_sub *s = su_subscribe(f.ch, o);
    streamlog_sub *p = sub_at(f.ch, STREAMLOG_START_FIRST, 0);
    SU_EXPECT(s, 0, 1, 0);
    SU_NOTHING(s);
    SU_EXPECT(p, 0, 1, 0);
    SU_NOTHING(p);
    TU_OK(streamlog_channel_delete(f.st, "c"));
    const streamlog_msg *m = NULL;
    TU_RC(streamlog_sub_next(s, 0, &m), STREAMLOG_ECLOSED);
    TU_RC(streamlog_sub_next(p, 0, &m), STREAMLOG_ECLOSED);
    TU_RC(streamlog_sub_next(p, 100, &m), STREAMLOG_ECLOSED);
    TU_OK(streamlog_ack(s, 1)); /* acks stay harmless */
    streamlog_sub *x = NULL;
    TU_RC(streamlog_subscribe(f.ch, o, &x), STREAMLOG_ECLOSED);
    TU_OK(streamlog_sub_close(s));
    TU_OK(streamlog_sub_close(p));
    /* a new channel under the same name has no trace of the durable */
    streamlog_channel *c2 = tu_chan(f.st, "c", NULL);
    su_fill_to(c2, 1);
    s = su_subscribe(c2, o);
    SU_EXPECT(s, 0, 1, 0);
    TU_OK(streamlog_sub_unsubscribe(s));
    streamlog_opts_free(o);
    streamlog_channel_close(c2);
    su_fix_close(&f);
}
END_TEST

static Suite *subs_basic_suite(void)
{
    Suite *s = suite_create("subs-basic");
    TCase *tc = tu_tcase("start", 30);
    tcase_add_test(tc, start_new_only_is_default);
    tcase_add_test(tc, start_positions);
    tcase_add_test(tc, start_first_after_retention);
    tcase_add_test(tc, delivery_in_order_large);
    suite_add_tcase(s, tc);

    tc = tu_tcase("wait", 30);
    tcase_add_test(tc, timeout_zero_and_timed_out);
    tcase_add_test(tc, wait_forever_woken_by_append_in_other_thread);
    tcase_add_test(tc, wait_with_timeout_woken_by_append);
    tcase_add_test(tc, huge_timeouts_wait);
    suite_add_tcase(s, tc);

    tc = tu_tcase("acks", 30);
    tcase_add_test(tc, manual_acks_and_idempotence);
    tcase_add_test(tc, auto_ack_no_redelivery);
    tcase_add_test(tc, ack_none_never_redelivered);
    tcase_add_test(tc, redelivery_after_ack_wait);
    tcase_add_test(tc, redelivery_wakes_waiting_sub_next);
    suite_add_tcase(s, tc);

    tc = tu_tcase("flow", 30);
    tcase_add_test(tc, max_inflight_stall_and_resume);
    tcase_add_test(tc, stall_ended_by_ack_from_other_thread);
    tcase_add_test(tc, redeliveries_not_held_back_by_stall);
    tcase_add_test(tc, max_deliver_to_dead_letter);
    tcase_add_test(tc, max_deliver_without_dead_letter);
    tcase_add_test(tc, removed_by_max_msgs_while_pending_plain);
    tcase_add_test(tc, removed_by_max_msgs_while_pending_durable);
    tcase_add_test(tc, expired_while_pending);
    tcase_add_test(tc, removed_before_delivery_not_delivered);
    tcase_add_test(tc, expired_before_delivery_not_delivered);
    suite_add_tcase(s, tc);

    tc = tu_tcase("fd", 30);
    tcase_add_test(tc, sub_fd_readable_after_append);
    tcase_add_test(tc, sub_fd_readable_at_redelivery_deadline);
    tcase_add_test(tc, sub_fd_readable_when_ack_ends_stall);
    suite_add_tcase(s, tc);

    tc = tu_tcase("stats-limits", 30);
    tcase_add_test(tc, stats_follow_deliveries);
    tcase_add_test(tc, channel_stats_count_subscriptions);
    tcase_add_test(tc, max_subs_limit);
    suite_add_tcase(s, tc);

    tc = tu_tcase("bad-input", 30);
    tcase_add_test(tc, bad_options);
    tcase_add_test(tc, bad_subscribe);
    tcase_add_test(tc, failed_subscribe_changes_nothing);
    tcase_add_test(tc, bad_calls_on_subscriptions);
    tcase_add_test(tc, store_close_busy_while_subscribed);
    tcase_add_test(tc, channel_deleted_under_subscription);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(subs_basic_suite());
}
