/*
 * test_retention.c - max_msgs, max_bytes and max_age: pruning in the same
 * commit, store-wide defaults against per-channel limits, lowering limits,
 * expiry, reclaimed space in the statistics, and sequences never reused.
 */
#define _GNU_SOURCE
#include "test_util.h"

#include <string.h>

static void expect_stats(streamlog_channel *ch, uint64_t first, uint64_t last, uint64_t msgs,
                         uint64_t bytes)
{
    streamlog_channel_stats s = tu_stats(ch);
    ck_assert_msg(s.first_seq == first && s.last_seq == last && s.msgs == msgs &&
                      s.bytes == bytes,
                  "stats first %llu last %llu msgs %llu bytes %llu; expected %llu %llu %llu %llu",
                  (unsigned long long)s.first_seq, (unsigned long long)s.last_seq,
                  (unsigned long long)s.msgs, (unsigned long long)s.bytes,
                  (unsigned long long)first, (unsigned long long)last,
                  (unsigned long long)msgs, (unsigned long long)bytes);
}

static void expect_gone(streamlog_channel *ch, uint64_t seq)
{
    streamlog_msg *m = NULL;
    int rc = streamlog_get(ch, seq, &m);
    if (rc == STREAMLOG_OK)
        streamlog_msg_free(m);
    ck_assert_msg(rc == STREAMLOG_ENOTFOUND, "get(%llu): expected ENOTFOUND, got %s",
                  (unsigned long long)seq, tu_name(rc));
}

/* Iterate from FIRST and return how many messages are readable; checks they
 * are exactly first..last in order. */
static uint64_t count_readable(streamlog_channel *ch, uint64_t first, uint64_t last)
{
    streamlog_iter *it = NULL;
    TU_OK(streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &it));
    const streamlog_msg *m;
    uint64_t n = 0, expect = first;
    int rc;
    while ((rc = streamlog_iter_next(it, &m)) == STREAMLOG_OK) {
        ck_assert_uint_eq(streamlog_msg_seq(m), expect);
        expect++;
        n++;
    }
    ck_assert_int_eq(rc, STREAMLOG_EAGAIN);
    ck_assert_uint_eq(expect, last + 1);
    streamlog_iter_close(it);
    return n;
}

START_TEST(max_msgs_prunes_oldest)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan1(st, "c", STREAMLOG_OPT_MAX_MSGS, 3);
    for (uint64_t i = 1; i <= 10; i++) {
        ck_assert_uint_eq(tu_append_str(ch, "abcd"), i);
        uint64_t n = i < 3 ? i : 3;
        expect_stats(ch, i - n + 1, i, n, 4 * n);
    }
    for (uint64_t i = 1; i <= 7; i++)
        expect_gone(ch, i);
    tu_expect_msg(ch, 8, "abcd", 4);
    ck_assert_uint_eq(count_readable(ch, 8, 10), 3);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(max_msgs_with_batch)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan1(st, "c", STREAMLOG_OPT_MAX_MSGS, 3);
    tu_append_str(ch, "x");
    const void *d[10];
    size_t l[10];
    char bufs[10][8];
    for (int i = 0; i < 10; i++) {
        snprintf(bufs[i], sizeof bufs[i], "b%d", i);
        d[i] = bufs[i];
        l[i] = strlen(bufs[i]);
    }
    uint64_t first = 0;
    TU_OK(streamlog_append_batch(ch, d, l, 10, &first));
    ck_assert_uint_eq(first, 2);
    expect_stats(ch, 9, 11, 3, 6);
    tu_expect_msg(ch, 9, "b7", 2);
    tu_expect_msg(ch, 11, "b9", 2);
    /* max_msgs 1: only the newest, also from a batch. */
    streamlog_channel *h = tu_chan1(st, "c", STREAMLOG_OPT_MAX_MSGS, 1);
    streamlog_channel_close(h);
    TU_OK(streamlog_append_batch(ch, d, l, 10, &first));
    ck_assert_uint_eq(first, 12);
    expect_stats(ch, 21, 21, 1, 2);
    tu_expect_msg(ch, 21, "b9", 2);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(max_bytes_prunes_oldest)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan1(st, "c", STREAMLOG_OPT_MAX_BYTES, 100);
    for (int i = 0; i < 10; i++)
        tu_append_str(ch, "0123456789");
    expect_stats(ch, 1, 10, 10, 100); /* exactly at the limit: all kept */
    tu_append_str(ch, "0123456789abcde"); /* 115 -> drop 2 -> 95 */
    expect_stats(ch, 3, 11, 9, 95);
    expect_gone(ch, 2);
    tu_append(ch, NULL, 0);
    expect_stats(ch, 3, 12, 10, 95);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(newest_stays_even_if_too_big)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan1(st, "c", STREAMLOG_OPT_MAX_BYTES, 100);
    tu_append_str(ch, "small");
    static unsigned char big[500];
    tu_fill(big, sizeof big, 1, 1);
    ck_assert_uint_eq(tu_append(ch, big, sizeof big), 2);
    expect_stats(ch, 2, 2, 1, 500);
    tu_expect_msg(ch, 2, big, sizeof big);
    tu_fill(big, sizeof big, 1, 3);
    ck_assert_uint_eq(tu_append(ch, big, sizeof big), 3);
    expect_stats(ch, 3, 3, 1, 500);
    tu_expect_msg(ch, 3, big, sizeof big);
    /* A batch of big ones: only the last survives. */
    const void *d[3] = { big, big, big };
    size_t l[3] = { 500, 500, 500 };
    TU_OK(streamlog_append_batch(ch, d, l, 3, NULL));
    expect_stats(ch, 6, 6, 1, 500);
    /* Then a small one: the big one goes. */
    tu_append_str(ch, "tiny");
    expect_stats(ch, 7, 7, 1, 4);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(max_bytes_ignores_empty_payloads)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan1(st, "c", STREAMLOG_OPT_MAX_BYTES, 10);
    for (int i = 0; i < 50; i++)
        tu_append(ch, NULL, 0);
    expect_stats(ch, 1, 50, 50, 0);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(both_limits)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_opts *o = tu_opts2(STREAMLOG_OPT_MAX_MSGS, 5, STREAMLOG_OPT_MAX_BYTES, 30);
    streamlog_channel *ch = tu_chan(st, "c", o);
    streamlog_opts_free(o);
    for (int i = 0; i < 10; i++)
        tu_append_str(ch, "ab");
    expect_stats(ch, 6, 10, 5, 10); /* msgs binds */
    for (int i = 0; i < 3; i++)
        tu_append_str(ch, "0123456789");
    expect_stats(ch, 11, 13, 3, 30); /* bytes binds */
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(store_defaults_and_channel_limits)
{
    streamlog_store *st = tu_open2(STREAMLOG_OPT_MAX_MSGS, 5, STREAMLOG_OPT_MAX_BYTES, 1000);
    streamlog_channel *dflt = tu_chan(st, "default", NULL);
    streamlog_channel *own = tu_chan1(st, "own", STREAMLOG_OPT_MAX_MSGS, 2);
    streamlog_channel *big = tu_chan1(st, "big", STREAMLOG_OPT_MAX_MSGS, 50);
    for (int i = 0; i < 20; i++) {
        tu_append_str(dflt, "m");
        tu_append_str(own, "m");
        tu_append_str(big, "m");
    }
    expect_stats(dflt, 16, 20, 5, 5);
    expect_stats(own, 19, 20, 2, 2);
    expect_stats(big, 1, 20, 20, 20);
    /* max_bytes default 1000 still applies where the channel set only max_msgs. */
    static unsigned char kb[400];
    for (int i = 0; i < 3; i++)
        tu_append(big, kb, sizeof kb);
    streamlog_channel_stats s = tu_stats(big);
    ck_assert_msg(s.bytes <= 1000, "store default max_bytes ignored: %llu bytes",
                  (unsigned long long)s.bytes);
    streamlog_channel_close(dflt);
    streamlog_channel_close(own);
    streamlog_channel_close(big);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(lowering_limits_prunes_at_once)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    for (int i = 0; i < 20; i++)
        tu_append_str(ch, "0123456789");
    streamlog_channel *h = tu_chan1(st, "c", STREAMLOG_OPT_MAX_MSGS, 5);
    expect_stats(ch, 16, 20, 5, 50);
    expect_stats(h, 16, 20, 5, 50);
    streamlog_channel_close(h);
    h = tu_chan1(st, "c", STREAMLOG_OPT_MAX_BYTES, 35);
    expect_stats(ch, 18, 20, 3, 30);
    streamlog_channel_close(h);
    expect_gone(ch, 17);
    ck_assert_uint_eq(count_readable(ch, 18, 20), 3);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* Lowering limits on a large channel prunes all the excess before the call
 * returns (checked through reads, which reclaim nothing themselves). */
START_TEST(lowering_limits_on_large_channel)
{
    streamlog_store *st = tu_open1(STREAMLOG_OPT_SYNC, STREAMLOG_SYNC_NONE);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    enum { N = 30000, B = 1000 };
    const void *d[B];
    size_t l[B];
    for (int i = 0; i < B; i++) {
        d[i] = "0123456789";
        l[i] = 10;
    }
    for (int i = 0; i < N / B; i++)
        TU_OK(streamlog_append_batch(ch, d, l, B, NULL));
    streamlog_channel *h = tu_chan1(st, "c", STREAMLOG_OPT_MAX_MSGS, 10);
    streamlog_channel_close(h);
    expect_gone(ch, 1);
    expect_gone(ch, N - 10);
    ck_assert_uint_eq(count_readable(ch, N - 9, N), 10);
    expect_stats(ch, N - 9, N, 10, 100);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* A channel that follows the store-wide default is held to a lower default
 * given at the next open: after an append, at most max_msgs remain. */
START_TEST(store_default_lowered_on_reopen)
{
    streamlog_store *st = tu_open1(STREAMLOG_OPT_SYNC, STREAMLOG_SYNC_NONE);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    enum { N = 5000, B = 1000 };
    const void *d[B];
    size_t l[B];
    for (int i = 0; i < B; i++) {
        d[i] = "0123456789";
        l[i] = 10;
    }
    for (int i = 0; i < N / B; i++)
        TU_OK(streamlog_append_batch(ch, d, l, B, NULL));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));

    st = tu_open2(STREAMLOG_OPT_MAX_MSGS, 10, STREAMLOG_OPT_SYNC, STREAMLOG_SYNC_NONE);
    ch = NULL;
    TU_OK(streamlog_channel_open(st, "c", 0, NULL, &ch));
    ck_assert_uint_eq(tu_append_str(ch, "new"), N + 1);
    /* Reads first (get_stats may reclaim on its own). */
    expect_gone(ch, 1);
    expect_gone(ch, N - 9);
    ck_assert_uint_eq(count_readable(ch, N - 8, N + 1), 10);
    expect_stats(ch, N - 8, N + 1, 10, 93);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(sequences_never_reused)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan1(st, "c", STREAMLOG_OPT_MAX_MSGS, 1);
    for (uint64_t i = 1; i <= 5; i++)
        ck_assert_uint_eq(tu_append_str(ch, "x"), i);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
    st = tu_open(NULL);
    ch = tu_chan(st, "c", NULL);
    expect_stats(ch, 5, 5, 1, 1);
    ck_assert_uint_eq(tu_append_str(ch, "y"), 6);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(max_age_expires)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan1(st, "c", STREAMLOG_OPT_MAX_AGE_MS, 300);
    tu_append_str(ch, "old1");
    tu_append_str(ch, "old2");
    tu_expect_msg(ch, 1, "old1", 4);
    expect_stats(ch, 1, 2, 2, 8);
    tu_sleep_ms(500);
    tu_append_str(ch, "new3");
    /* Old ones are gone from every read path; the new one is there. */
    expect_gone(ch, 1);
    expect_gone(ch, 2);
    tu_expect_msg(ch, 3, "new3", 4);
    ck_assert_uint_eq(count_readable(ch, 3, 3), 1);
    expect_stats(ch, 3, 3, 1, 4);
    tu_sleep_ms(500);
    /* All expired: empty, first = last + 1, bytes 0. */
    expect_stats(ch, 4, 3, 0, 0);
    streamlog_iter *it = NULL;
    TU_OK(streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &it));
    const streamlog_msg *m;
    TU_RC(streamlog_iter_next(it, &m), STREAMLOG_EAGAIN);
    /* Numbering continues. */
    ck_assert_uint_eq(tu_append_str(ch, "new4"), 4);
    TU_OK(streamlog_iter_next(it, &m));
    ck_assert_uint_eq(streamlog_msg_seq(m), 4);
    streamlog_iter_close(it);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* Expired messages are unreadable from the moment they expire, whether or
 * not the background thread has reclaimed them yet. */
START_TEST(max_age_unreadable_immediately)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan1(st, "c", STREAMLOG_OPT_MAX_AGE_MS, 200);
    for (int round = 0; round < 5; round++) {
        uint64_t seq = tu_append_str(ch, "soon gone");
        streamlog_msg *m = NULL;
        TU_OK(streamlog_get(ch, seq, &m));
        int64_t t = streamlog_msg_time(m);
        streamlog_msg_free(m);
        /* Sleep until just past the expiry moment (t + 200 ms). */
        int64_t wait_ns = t + 200LL * 1000000 - tu_now_ns() + 5LL * 1000000;
        if (wait_ns > 0)
            tu_sleep_ms((long)(wait_ns / 1000000) + 1);
        expect_gone(ch, seq);
        streamlog_iter *it = NULL;
        TU_OK(streamlog_iter_open(ch, STREAMLOG_START_SEQUENCE, (int64_t)seq, &it));
        const streamlog_msg *v;
        TU_RC(streamlog_iter_next(it, &v), STREAMLOG_EAGAIN);
        streamlog_iter_close(it);
    }
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* An iterator that is already past some messages when they expire skips
 * expired ones. */
START_TEST(iterator_skips_expired)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan1(st, "c", STREAMLOG_OPT_MAX_AGE_MS, 300);
    streamlog_iter *it = NULL;
    TU_OK(streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &it));
    for (int i = 0; i < 5; i++)
        tu_append_str(ch, "old");
    const streamlog_msg *m;
    TU_OK(streamlog_iter_next(it, &m));
    ck_assert_uint_eq(streamlog_msg_seq(m), 1);
    tu_sleep_ms(500);
    tu_append_str(ch, "new");
    TU_OK(streamlog_iter_next(it, &m));
    ck_assert_uint_eq(streamlog_msg_seq(m), 6);
    TU_RC(streamlog_iter_next(it, &m), STREAMLOG_EAGAIN);
    streamlog_iter_close(it);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(store_default_max_age)
{
    streamlog_store *st = tu_open1(STREAMLOG_OPT_MAX_AGE_MS, 200);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    streamlog_channel *keep = tu_chan1(st, "keep", STREAMLOG_OPT_MAX_AGE_MS, 3600000);
    tu_append_str(ch, "x");
    tu_append_str(keep, "x");
    tu_sleep_ms(400);
    expect_gone(ch, 1);
    expect_stats(ch, 2, 1, 0, 0);
    tu_expect_msg(keep, 1, "x", 1);
    streamlog_channel_close(ch);
    streamlog_channel_close(keep);
    TU_OK(streamlog_close(st));
}
END_TEST

/* Expiry across a reopen: messages that expired while the store was closed
 * are not readable; numbering continues after an all-expired channel. */
START_TEST(expiry_across_reopen)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan1(st, "c", STREAMLOG_OPT_MAX_AGE_MS, 200);
    for (int i = 0; i < 3; i++)
        tu_append_str(ch, "x");
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
    tu_sleep_ms(400);
    st = tu_open(NULL);
    ch = NULL;
    TU_OK(streamlog_channel_open(st, "c", 0, NULL, &ch));
    expect_gone(ch, 3);
    expect_stats(ch, 4, 3, 0, 0);
    ck_assert_uint_eq(tu_append_str(ch, "y"), 4);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
    /* Reopen once more with everything expired and reclaimed. */
    tu_sleep_ms(400);
    st = tu_open(NULL);
    ch = NULL;
    TU_OK(streamlog_channel_open(st, "c", 0, NULL, &ch));
    expect_stats(ch, 5, 4, 0, 0);
    ck_assert_uint_eq(tu_append_str(ch, "z"), 5);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* Setting max_age on an existing channel makes messages older than it
 * unreadable at once. Message "a" is older than max_age when it is set;
 * "b" must still be younger when the checks end, which a slow run (valgrind
 * on busy cores) can miss: then the gap between them doubles and the test
 * runs again, so the result is judged only when the timing held. */
START_TEST(lowering_max_age)
{
    streamlog_store *st = tu_open(NULL);
    for (int64_t gap_ms = 300;; gap_ms *= 2) {
        char name[32];
        snprintf(name, sizeof name, "c%lld", (long long)gap_ms);
        streamlog_channel *ch = tu_chan(st, name, NULL);
        tu_append_str(ch, "a");
        tu_sleep_ms(gap_ms);
        tu_append_str(ch, "b");
        streamlog_msg *m = NULL;
        TU_OK(streamlog_get(ch, 2, &m));
        int64_t b_time = streamlog_msg_time(m);
        streamlog_msg_free(m);
        int64_t max_age_ms = gap_ms * 2 / 3; /* "a" is at least gap_ms old */
        streamlog_channel *h = tu_chan1(st, name, STREAMLOG_OPT_MAX_AGE_MS, max_age_ms);
        streamlog_channel_close(h);
        int a_rc = streamlog_get(ch, 1, &m);
        if (a_rc == STREAMLOG_OK)
            streamlog_msg_free(m);
        int b_rc = streamlog_get(ch, 2, &m);
        size_t b_len = 0;
        int b_intact = b_rc == STREAMLOG_OK && memcmp(streamlog_msg_data(m, &b_len), "b", 1) == 0 && b_len == 1;
        if (b_rc == STREAMLOG_OK)
            streamlog_msg_free(m);
        streamlog_channel_stats s = tu_stats(ch);
        streamlog_channel_close(ch);
        if (tu_now_ns() - b_time < max_age_ms * 1000000) {
            ck_assert_msg(a_rc == STREAMLOG_ENOTFOUND, "get(1): expected ENOTFOUND, got %s", tu_name(a_rc));
            ck_assert_msg(b_intact, "get(2): %s", tu_name(b_rc));
            ck_assert_msg(s.first_seq == 2 && s.last_seq == 2 && s.msgs == 1 && s.bytes == 1,
                          "stats first %llu last %llu msgs %llu bytes %llu; expected 2 2 1 1",
                          (unsigned long long)s.first_seq, (unsigned long long)s.last_seq,
                          (unsigned long long)s.msgs, (unsigned long long)s.bytes);
            break;
        }
        ck_assert_msg(gap_ms < 20000, "no run was fast enough to judge with a gap of %lld ms", (long long)gap_ms);
    }
    TU_OK(streamlog_close(st));
}
END_TEST

/* Purging up to a sequence removes exactly that prefix, keeps the numbering
 * and moves a subscription positioned in the range to the first message
 * kept; purging everything leaves an empty channel that numbers on. */
START_TEST(purge_keeps_numbering)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    for (int i = 1; i <= 10; i++)
        tu_append_str(ch, i < 10 ? "m" : "last");
    streamlog_sub *sub;
    streamlog_opts *o = tu_opts2(STREAMLOG_OPT_START, STREAMLOG_START_FIRST, 0, 0);
    TU_OK(streamlog_subscribe(ch, o, &sub));
    streamlog_opts_free(o);
    uint64_t removed = 4242;
    TU_OK(streamlog_channel_purge(ch, 4, &removed));
    ck_assert_uint_eq(removed, 4);
    expect_stats(ch, 5, 10, 6, 9);
    expect_gone(ch, 4);
    const streamlog_msg *m;
    TU_OK(streamlog_sub_next(sub, 1000, &m));
    ck_assert_uint_eq(streamlog_msg_seq(m), 5);
    TU_OK(streamlog_channel_purge(ch, 2, &removed)); /* nothing left below 5 */
    ck_assert_uint_eq(removed, 0);
    ck_assert_uint_eq(tu_append_str(ch, "11"), 11);
    TU_OK(streamlog_channel_purge(ch, UINT64_MAX, NULL));
    expect_stats(ch, 12, 11, 0, 0);
    ck_assert_uint_eq(tu_append_str(ch, "12"), 12);
    expect_stats(ch, 12, 12, 1, 2);
    TU_RC(streamlog_channel_purge(NULL, 1, NULL), STREAMLOG_EINVAL);
    TU_OK(streamlog_sub_close(sub));
    streamlog_channel_close(ch);
    /* a deleted channel's handle */
    streamlog_channel *h = tu_chan(st, "d", NULL);
    tu_append_str(h, "x");
    TU_OK(streamlog_channel_delete(st, "d"));
    TU_RC(streamlog_channel_purge(h, 1, NULL), STREAMLOG_ECLOSED);
    streamlog_channel_close(h);
    TU_OK(streamlog_close(st));
}
END_TEST

/* stats.bytes always equals the sum of the readable payloads. */
START_TEST(stats_bytes_consistent)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_opts *o = tu_opts2(STREAMLOG_OPT_MAX_MSGS, 37, STREAMLOG_OPT_MAX_BYTES, 5000);
    streamlog_channel *ch = tu_chan(st, "c", o);
    streamlog_opts_free(o);
    static unsigned char buf[700];
    for (uint64_t i = 1; i <= 400; i++) {
        size_t len = (size_t)(i * 7919 % 700);
        tu_fill(buf, len, 2, i);
        if (i % 13 == 0) {
            const void *d[3] = { buf, buf, buf };
            size_t l[3] = { len, len / 2, len / 3 };
            TU_OK(streamlog_append_batch(ch, d, l, 3, NULL));
        } else {
            tu_append(ch, buf, len);
        }
        if (i % 25 == 0) {
            streamlog_channel_stats s = tu_stats(ch);
            streamlog_iter *it = NULL;
            TU_OK(streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &it));
            const streamlog_msg *m;
            uint64_t n = 0, bytes = 0, first = 0, last = 0;
            while (streamlog_iter_next(it, &m) == STREAMLOG_OK) {
                size_t len2 = 0;
                (void)streamlog_msg_data(m, &len2);
                bytes += len2;
                if (!n)
                    first = streamlog_msg_seq(m);
                last = streamlog_msg_seq(m);
                n++;
            }
            streamlog_iter_close(it);
            ck_assert_uint_eq(s.msgs, n);
            ck_assert_uint_eq(s.bytes, bytes);
            ck_assert_uint_eq(s.first_seq, first);
            ck_assert_uint_eq(s.last_seq, last);
            ck_assert_uint_eq(last - first + 1, n);
            ck_assert_uint_le(n, 37);
            ck_assert(bytes <= 5000 || n == 1);
        }
    }
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

static Suite *retention_suite(void)
{
    Suite *s = suite_create("retention");
    TCase *tc = tu_tcase("size", 0);
    tcase_add_test(tc, max_msgs_prunes_oldest);
    tcase_add_test(tc, max_msgs_with_batch);
    tcase_add_test(tc, max_bytes_prunes_oldest);
    tcase_add_test(tc, newest_stays_even_if_too_big);
    tcase_add_test(tc, max_bytes_ignores_empty_payloads);
    tcase_add_test(tc, both_limits);
    tcase_add_test(tc, store_defaults_and_channel_limits);
    tcase_add_test(tc, lowering_limits_prunes_at_once);
    tcase_add_test(tc, sequences_never_reused);
    tcase_add_test(tc, lowering_limits_on_large_channel);
    tcase_add_test(tc, store_default_lowered_on_reopen);
    tcase_add_test(tc, stats_bytes_consistent);
    suite_add_tcase(s, tc);

    tc = tu_tcase("age", 0);
    tcase_add_test(tc, max_age_expires);
    tcase_add_test(tc, max_age_unreadable_immediately);
    tcase_add_test(tc, iterator_skips_expired);
    tcase_add_test(tc, store_default_max_age);
    tcase_add_test(tc, expiry_across_reopen);
    tcase_add_test(tc, lowering_max_age);
    tcase_add_test(tc, purge_keeps_numbering);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(retention_suite());
}
