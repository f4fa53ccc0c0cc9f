/*
 * test_subs_nak.c - streamlog_nak, streamlog_progress and streamlog_term:
 * redelivery now or after a delay (plain, durable and queue subscriptions;
 * a queue member's nak lets another member take the message), a nak from
 * another thread waking streamlog_sub_next(), progress holding off the
 * redelivery and a queue takeover, term dead-lettering at once (and only
 * once in a group), and bad input: NULL, sequence 0, delays out of range,
 * sequences not in flight.
 *
 * Tests about deadlines step the subscriptions' clock (sl_subs_clock_step)
 * and ask with timeout 0, so they neither sleep nor depend on scheduling.
 *
 * Payloads are "m<seq>" (su_fill_to), checked on every delivery.
 */
#define _GNU_SOURCE
#include "subs_util.h"

#include <pthread.h>
#include <stdatomic.h>

#include "subs.h" /* sl_subs_clock_step: deadline tests step the clock instead of sleeping */

#define SEC 1000000000LL

/* kind: 0 plain, 1 durable, 2 queue; everything from the first message. */
static streamlog_sub *sub_kind(streamlog_channel *ch, int kind, int64_t ack_wait_ms, const char *dead_letter)
{
    streamlog_opts *o = su_opts();
    su_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST);
    su_int(o, STREAMLOG_OPT_ACK_WAIT_MS, ack_wait_ms);
    if (kind == 1)
        su_str(o, STREAMLOG_OPT_DURABLE, "d");
    if (kind == 2)
        su_str(o, STREAMLOG_OPT_QUEUE, "q");
    if (dead_letter)
        su_str(o, STREAMLOG_OPT_DEAD_LETTER, dead_letter);
    streamlog_sub *s = su_subscribe(ch, o);
    streamlog_opts_free(o);
    return s;
}

/* ---- nak ---- */

static void nak_now_redelivers(int kind)
{
    struct su_fix f = su_fix_open(3);
    streamlog_sub *s = sub_kind(f.ch, kind, 60000, NULL);
    SU_EXPECT(s, 5000, 1, 0);
    SU_EXPECT(s, 5000, 2, 0);
    TU_OK(streamlog_nak(s, 1, 0));
    /* at once, not after the 60 s ack wait; before the new message 3 */
    SU_EXPECT(s, 5000, 1, 1);
    TU_OK(streamlog_nak(s, 1, 0));
    SU_EXPECT(s, 5000, 1, 2);
    TU_OK(streamlog_ack(s, 1));
    SU_EXPECT(s, 5000, 3, 0);
    TU_OK(streamlog_ack(s, 2));
    TU_OK(streamlog_ack(s, 3));
    SU_NOTHING(s);
    streamlog_sub_stats ss = su_stats(s);
    ck_assert_uint_eq(ss.pending, 0);
    ck_assert_uint_eq(ss.redelivered, 2);
    TU_OK(streamlog_sub_close(s));
    su_fix_close(&f);
}

START_TEST(nak_now_redelivers_plain)
{
    nak_now_redelivers(0);
}
END_TEST

START_TEST(nak_now_redelivers_durable)
{
    nak_now_redelivers(1);
}
END_TEST

START_TEST(nak_now_redelivers_queue)
{
    nak_now_redelivers(2);
}
END_TEST

/* A delay holds the redelivery back: a day-long one is not due, a nak
 * without delay replaces it; a short one comes after (never before) it. */
static void nak_delay(int kind)
{
    struct su_fix f = su_fix_open(1);
    streamlog_sub *s = sub_kind(f.ch, kind, 60000, NULL);
    SU_EXPECT(s, 5000, 1, 0);
    TU_OK(streamlog_nak(s, 1, STREAMLOG_NAK_DELAY_MAX_MS));
    SU_NOTHING(s);
    TU_OK(streamlog_nak(s, 1, 0)); /* the last nak wins */
    SU_EXPECT(s, 5000, 1, 1);
    TU_OK(streamlog_nak(s, 1, 20000));
    sl_subs_clock_step(18 * SEC);
    SU_NOTHING(s); /* never before the delay */
    sl_subs_clock_step(3 * SEC);
    SU_EXPECT(s, 0, 1, 2);
    TU_OK(streamlog_ack(s, 1));
    TU_OK(streamlog_sub_close(s));
    su_fix_close(&f);
}

START_TEST(nak_delay_plain)
{
    nak_delay(0);
}
END_TEST

START_TEST(nak_delay_durable)
{
    nak_delay(1);
}
END_TEST

START_TEST(nak_delay_queue)
{
    nak_delay(2);
}
END_TEST

/* After a queue member's nak and its delay, a waiting member may take the
 * message over (as a redelivery, never before the delay), and the first
 * member's copy is no longer its own. */
START_TEST(queue_nak_goes_to_another_member)
{
    struct su_fix f = su_fix_open(1);
    streamlog_sub *a = sub_kind(f.ch, 2, 60000, NULL);
    SU_EXPECT(a, 5000, 1, 0);
    streamlog_sub *b = sub_kind(f.ch, 2, 60000, NULL);
    SU_NOTHING(b);
    TU_OK(streamlog_nak(a, 1, 20000));
    SU_NOTHING(b);
    sl_subs_clock_step(18 * SEC);
    SU_NOTHING(b); /* never before the delay */
    sl_subs_clock_step(3 * SEC);
    SU_EXPECT(b, 0, 1, 1);
    TU_RC(streamlog_progress(a, 1), STREAMLOG_ENOTFOUND); /* b's now */
    TU_OK(streamlog_ack(b, 1));
    SU_NOTHING(a);
    SU_NOTHING(b);
    TU_OK(streamlog_sub_close(a));
    TU_OK(streamlog_sub_close(b));
    su_fix_close(&f);
}
END_TEST

struct waiter {
    streamlog_sub *sub;
    uint64_t seq;
    uint32_t redel;
    int rc;
};

static void *wait_main(void *p)
{
    struct waiter *w = p;
    const streamlog_msg *m;
    w->rc = streamlog_sub_next(w->sub, 20000, &m);
    if (w->rc == STREAMLOG_OK) {
        w->seq = streamlog_msg_seq(m);
        w->redel = streamlog_msg_redelivery_count(m);
    }
    return NULL;
}

/* A nak from another thread wakes a streamlog_sub_next() waiting for nothing else. */
START_TEST(nak_from_other_thread_wakes_waiter)
{
    struct su_fix f = su_fix_open(1);
    streamlog_sub *s = sub_kind(f.ch, 0, 60000, NULL);
    SU_EXPECT(s, 5000, 1, 0);
    struct waiter w = {s, 0, 0, -99};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, wait_main, &w), 0);
    TU_OK(streamlog_nak(s, 1, 0));
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    TU_OK(w.rc);
    ck_assert_uint_eq(w.seq, 1);
    ck_assert_uint_eq(w.redel, 1);
    TU_OK(streamlog_sub_close(s));
    su_fix_close(&f);
}
END_TEST

/* Redeliveries by nak count toward MAX_DELIVER. */
START_TEST(nak_counts_toward_max_deliver)
{
    struct su_fix f = su_fix_open(1);
    streamlog_opts *o = su_opts();
    su_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST);
    su_int(o, STREAMLOG_OPT_MAX_DELIVER, 2);
    su_str(o, STREAMLOG_OPT_DEAD_LETTER, "c.dead");
    streamlog_sub *s = su_subscribe(f.ch, o);
    streamlog_opts_free(o);
    SU_EXPECT(s, 5000, 1, 0);
    TU_OK(streamlog_nak(s, 1, 0));
    SU_EXPECT(s, 5000, 1, 1);
    TU_OK(streamlog_nak(s, 1, 0));
    SU_NOTHING(s); /* two deliveries made: dead-lettered instead */
    streamlog_channel *dl = tu_chan(f.st, "c.dead", NULL);
    ck_assert_uint_eq(tu_stats(dl).msgs, 1);
    ck_assert_uint_eq(su_stats(s).dead_lettered, 1);
    streamlog_channel_close(dl);
    TU_OK(streamlog_sub_close(s));
    su_fix_close(&f);
}
END_TEST

/* ---- progress ---- */

/* Progress restarts the ack wait (10 s): 18 s after the delivery, with
 * progress at 9 s, the message is neither redelivered (plain) nor taken over
 * by a waiting member (queue); 2 s later it is, and the first member's
 * progress then says it is no longer its own. */
static void progress_holds_off(int queue)
{
    struct su_fix f = su_fix_open(1);
    streamlog_sub *a = sub_kind(f.ch, queue ? 2 : 0, 10000, NULL);
    SU_EXPECT(a, 5000, 1, 0);
    streamlog_sub *b = queue ? sub_kind(f.ch, 2, 10000, NULL) : NULL;
    streamlog_sub *other = queue ? b : a;
    SU_NOTHING(other);
    sl_subs_clock_step(9 * SEC);
    TU_OK(streamlog_progress(a, 1));
    sl_subs_clock_step(9 * SEC);
    SU_NOTHING(other);
    sl_subs_clock_step(2 * SEC);
    SU_EXPECT(other, 0, 1, 1);
    if (queue) {
        TU_RC(streamlog_progress(a, 1), STREAMLOG_ENOTFOUND);
        TU_OK(streamlog_ack(b, 1));
        TU_OK(streamlog_sub_close(b));
    } else {
        TU_OK(streamlog_progress(a, 1)); /* still in flight, redelivered */
        TU_OK(streamlog_ack(a, 1));
        TU_RC(streamlog_progress(a, 1), STREAMLOG_ENOTFOUND);
    }
    TU_OK(streamlog_sub_close(a));
    su_fix_close(&f);
}

START_TEST(progress_holds_off_redelivery)
{
    progress_holds_off(0);
}
END_TEST

START_TEST(progress_holds_off_queue_takeover)
{
    progress_holds_off(1);
}
END_TEST

/* ---- term ---- */

static void term_dead_letters(int kind)
{
    struct su_fix f = su_fix_open(2);
    streamlog_sub *s = sub_kind(f.ch, kind, 60000, "c.dead");
    SU_EXPECT(s, 5000, 1, 0);
    TU_OK(streamlog_term(s, 1));
    TU_RC(streamlog_term(s, 1), STREAMLOG_ENOTFOUND);
    TU_RC(streamlog_nak(s, 1, 0), STREAMLOG_ENOTFOUND);
    SU_EXPECT(s, 5000, 2, 0);
    TU_OK(streamlog_ack(s, 2));
    SU_NOTHING(s);
    streamlog_sub_stats ss = su_stats(s);
    ck_assert_uint_eq(ss.dead_lettered, 1);
    ck_assert_uint_eq(ss.pending, 0);
    streamlog_channel *dl = tu_chan(f.st, "c.dead", NULL);
    ck_assert_uint_eq(tu_stats(dl).msgs, 1);
    streamlog_msg *m;
    TU_OK(streamlog_get(dl, 1, &m));
    size_t len;
    const void *d = streamlog_msg_data(m, &len);
    ck_assert(len == 2 && memcmp(d, "m1", 2) == 0);
    streamlog_msg_free(m);
    streamlog_channel_close(dl);
    TU_OK(streamlog_sub_close(s));
    if (kind == 1) { /* the durable does not resume it */
        s = sub_kind(f.ch, 1, 60000, "c.dead");
        SU_NOTHING(s);
        TU_OK(streamlog_sub_close(s));
    }
    su_fix_close(&f);
}

START_TEST(term_dead_letters_plain)
{
    term_dead_letters(0);
}
END_TEST

START_TEST(term_dead_letters_durable)
{
    term_dead_letters(1);
}
END_TEST

START_TEST(term_dead_letters_queue)
{
    term_dead_letters(2);
}
END_TEST

/* A member whose message another member took over cannot term it: only the
 * owner dead-letters, once. */
START_TEST(term_by_former_owner_refused)
{
    struct su_fix f = su_fix_open(1);
    streamlog_sub *a = sub_kind(f.ch, 2, 10000, "c.dead");
    SU_EXPECT(a, 5000, 1, 0);
    streamlog_sub *b = sub_kind(f.ch, 2, 60000, "c.dead");
    sl_subs_clock_step(11 * SEC);
    SU_EXPECT(b, 0, 1, 1); /* a's ack wait ran out: b takes it over */
    TU_RC(streamlog_term(a, 1), STREAMLOG_ENOTFOUND);
    TU_OK(streamlog_term(b, 1));
    streamlog_channel *dl = tu_chan(f.st, "c.dead", NULL);
    ck_assert_uint_eq(tu_stats(dl).msgs, 1);
    streamlog_channel_close(dl);
    TU_OK(streamlog_sub_close(a));
    TU_OK(streamlog_sub_close(b));
    su_fix_close(&f);
}
END_TEST

/* ---- bad input ---- */

START_TEST(bad_input)
{
    struct su_fix f = su_fix_open(1);
    streamlog_sub *s = sub_kind(f.ch, 0, 60000, NULL);
    TU_RC(streamlog_nak(NULL, 1, 0), STREAMLOG_EINVAL);
    ck_assert_str_ne(streamlog_errmsg(), "");
    TU_RC(streamlog_nak(s, 0, 0), STREAMLOG_EINVAL);
    TU_RC(streamlog_nak(s, 1, -1), STREAMLOG_EINVAL);
    TU_RC(streamlog_nak(s, 1, STREAMLOG_NAK_DELAY_MAX_MS + 1), STREAMLOG_EINVAL);
    TU_RC(streamlog_nak(s, 1, INT64_MIN), STREAMLOG_EINVAL);
    TU_RC(streamlog_progress(NULL, 1), STREAMLOG_EINVAL);
    TU_RC(streamlog_progress(s, 0), STREAMLOG_EINVAL);
    TU_RC(streamlog_term(NULL, 1), STREAMLOG_EINVAL);
    TU_RC(streamlog_term(s, 0), STREAMLOG_EINVAL);
    /* not delivered yet, never stored */
    TU_RC(streamlog_nak(s, 1, 0), STREAMLOG_ENOTFOUND);
    ck_assert_str_ne(streamlog_errmsg(), "");
    TU_RC(streamlog_progress(s, 1), STREAMLOG_ENOTFOUND);
    TU_RC(streamlog_term(s, 1), STREAMLOG_ENOTFOUND);
    TU_RC(streamlog_nak(s, UINT64_MAX, 0), STREAMLOG_ENOTFOUND);
    SU_EXPECT(s, 5000, 1, 0);
    TU_OK(streamlog_ack(s, 1));
    TU_RC(streamlog_nak(s, 1, 0), STREAMLOG_ENOTFOUND);
    TU_RC(streamlog_progress(s, 1), STREAMLOG_ENOTFOUND);
    TU_RC(streamlog_term(s, 1), STREAMLOG_ENOTFOUND);
    SU_NOTHING(s);
    TU_OK(streamlog_sub_close(s));

    /* ACK_NONE: nothing is ever in flight */
    streamlog_opts *o = su_opts();
    su_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST);
    su_int(o, STREAMLOG_OPT_ACK_MODE, STREAMLOG_ACK_NONE);
    s = su_subscribe(f.ch, o);
    streamlog_opts_free(o);
    SU_EXPECT(s, 5000, 1, 0);
    TU_RC(streamlog_nak(s, 1, 0), STREAMLOG_ENOTFOUND);
    TU_RC(streamlog_term(s, 1), STREAMLOG_ENOTFOUND);
    TU_OK(streamlog_sub_close(s));
    su_fix_close(&f);
}
END_TEST

static Suite *subs_nak_suite(void)
{
    Suite *s = suite_create("subs-nak");
    TCase *tc = tu_tcase("nak", 120);
    tcase_add_test(tc, nak_now_redelivers_plain);
    tcase_add_test(tc, nak_now_redelivers_durable);
    tcase_add_test(tc, nak_now_redelivers_queue);
    tcase_add_test(tc, nak_delay_plain);
    tcase_add_test(tc, nak_delay_durable);
    tcase_add_test(tc, nak_delay_queue);
    tcase_add_test(tc, queue_nak_goes_to_another_member);
    tcase_add_test(tc, nak_from_other_thread_wakes_waiter);
    tcase_add_test(tc, nak_counts_toward_max_deliver);
    suite_add_tcase(s, tc);
    tc = tu_tcase("progress", 120);
    tcase_add_test(tc, progress_holds_off_redelivery);
    tcase_add_test(tc, progress_holds_off_queue_takeover);
    suite_add_tcase(s, tc);
    tc = tu_tcase("term", 120);
    tcase_add_test(tc, term_dead_letters_plain);
    tcase_add_test(tc, term_dead_letters_durable);
    tcase_add_test(tc, term_dead_letters_queue);
    tcase_add_test(tc, term_by_former_owner_refused);
    tcase_add_test(tc, bad_input);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    return tu_run(subs_nak_suite());
}
