/*
 * test_read.c - reading: streamlog_get and owned copies, message accessors,
 * iterators from every start position, catching up (EAGAIN), positions,
 * skipping removed messages and the lifetime of views.
 */
#define _GNU_SOURCE
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

static streamlog_store *st;
static streamlog_channel *ch;
static int64_t times[64]; /* times[seq] of the fixture channel */

/* Payload of message seq in the fixture channel. */
static void payload_of(uint64_t seq, char *buf, size_t n)
{
    snprintf(buf, n, "message %llu", (unsigned long long)seq);
}

/* A channel with messages 1..n at strictly increasing, distinct times
 * (a short sleep between appends). */
static void fill_channel(int n, int sleep_ms)
{
    st = tu_open(NULL);
    ch = tu_chan(st, "c", NULL);
    char buf[64];
    for (int i = 1; i <= n; i++) {
        payload_of((uint64_t)i, buf, sizeof buf);
        ck_assert_uint_eq(tu_append_str(ch, buf), (uint64_t)i);
        streamlog_msg *m = NULL;
        TU_OK(streamlog_get(ch, (uint64_t)i, &m));
        times[i] = streamlog_msg_time(m);
        streamlog_msg_free(m);
        if (sleep_ms)
            tu_sleep_ms(sleep_ms);
    }
    for (int i = 2; i <= n; i++)
        ck_assert_msg(times[i] > times[i - 1], "times not distinct: %lld %lld",
                      (long long)times[i - 1], (long long)times[i]);
}

static void close_all(void)
{
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}

/* Expect the iterator to yield exactly seqs from..to then EAGAIN. */
static void expect_range(streamlog_iter *it, uint64_t from, uint64_t to)
{
    char buf[64];
    for (uint64_t s = from; s <= to; s++) {
        const streamlog_msg *m = NULL;
        int rc = streamlog_iter_next(it, &m);
        ck_assert_msg(rc == STREAMLOG_OK, "iter_next expecting seq %llu: %s",
                      (unsigned long long)s, tu_name(rc));
        ck_assert_uint_eq(streamlog_msg_seq(m), s);
        payload_of(s, buf, sizeof buf);
        size_t len = 0;
        const void *d = streamlog_msg_data(m, &len);
        ck_assert_uint_eq(len, strlen(buf));
        ck_assert_int_eq(memcmp(d, buf, len), 0);
        if (s < 64 && times[s])
            ck_assert_int_eq(streamlog_msg_time(m), times[s]);
    }
    const streamlog_msg *m = (const streamlog_msg *)&m;
    TU_RC(streamlog_iter_next(it, &m), STREAMLOG_EAGAIN);
    ck_assert_ptr_eq(m, (const streamlog_msg *)&m);
}

static streamlog_iter *open_iter(int start, int64_t value)
{
    streamlog_iter *it = NULL;
    int rc = streamlog_iter_open(ch, start, value, &it);
    ck_assert_msg(rc == STREAMLOG_OK, "iter_open(start %d, value %lld): %s [%s]", start,
                  (long long)value, tu_name(rc), tu_errmsg_safe());
    ck_assert_ptr_nonnull(it);
    return it;
}

static void append_next(uint64_t expect_seq)
{
    char buf[64];
    payload_of(expect_seq, buf, sizeof buf);
    ck_assert_uint_eq(tu_append_str(ch, buf), expect_seq);
}

/* ---- get / copies / accessors ---- */

START_TEST(get_owned_copy)
{
    fill_channel(5, 0);
    streamlog_msg *m = NULL;
    TU_OK(streamlog_get(ch, 3, &m));
    ck_assert_uint_eq(streamlog_msg_seq(m), 3);
    ck_assert_int_eq(streamlog_msg_time(m), times[3]);
    /* The copy outlives the channel handle and the store. */
    close_all();
    size_t len = 0;
    const void *d = streamlog_msg_data(m, &len);
    ck_assert_uint_eq(len, 9);
    ck_assert_int_eq(memcmp(d, "message 3", 9), 0);
    streamlog_msg *c = NULL;
    TU_OK(streamlog_msg_copy(m, &c));
    streamlog_msg_free(m);
    d = streamlog_msg_data(c, &len);
    ck_assert_uint_eq(len, 9);
    ck_assert_int_eq(memcmp(d, "message 3", 9), 0);
    ck_assert_uint_eq(streamlog_msg_seq(c), 3);
    ck_assert_int_eq(streamlog_msg_time(c), times[3]);
    streamlog_msg_free(c);
}
END_TEST

START_TEST(get_not_found)
{
    fill_channel(5, 0);
    streamlog_msg *m = (streamlog_msg *)&m;
    TU_RC(streamlog_get(ch, 0, &m), STREAMLOG_ENOTFOUND);
    TU_RC(streamlog_get(ch, 6, &m), STREAMLOG_ENOTFOUND);
    TU_RC(streamlog_get(ch, 1000000, &m), STREAMLOG_ENOTFOUND);
    TU_RC(streamlog_get(ch, UINT64_MAX, &m), STREAMLOG_ENOTFOUND);
    ck_assert_ptr_eq(m, (streamlog_msg *)&m);
    /* Removed by a limit. */
    streamlog_channel *h = tu_chan1(st, "c", STREAMLOG_OPT_MAX_MSGS, 2);
    streamlog_channel_close(h);
    for (uint64_t s = 1; s <= 3; s++)
        TU_RC(streamlog_get(ch, s, &m), STREAMLOG_ENOTFOUND);
    TU_OK(streamlog_get(ch, 4, &m));
    streamlog_msg_free(m);
    m = (streamlog_msg *)&m;
    TU_RC(streamlog_get(ch, 1, NULL), STREAMLOG_EINVAL);
    TU_RC(streamlog_get(NULL, 4, &m), STREAMLOG_EINVAL);
    ck_assert_ptr_eq(m, (streamlog_msg *)&m);
    close_all();
}
END_TEST

START_TEST(get_from_other_channel_is_separate)
{
    fill_channel(3, 0);
    streamlog_channel *o = tu_chan(st, "other", NULL);
    streamlog_msg *m = NULL;
    TU_RC(streamlog_get(o, 1, &m), STREAMLOG_ENOTFOUND);
    tu_append_str(o, "other 1");
    tu_expect_msg(o, 1, "other 1", 7);
    tu_expect_msg(ch, 1, "message 1", 9);
    streamlog_channel_close(o);
    close_all();
}
END_TEST

START_TEST(msg_copy_of_view)
{
    fill_channel(3, 0);
    streamlog_iter *it = open_iter(STREAMLOG_START_FIRST, 0);
    const streamlog_msg *v = NULL;
    TU_OK(streamlog_iter_next(it, &v));
    streamlog_msg *c = NULL;
    TU_OK(streamlog_msg_copy(v, &c));
    TU_OK(streamlog_iter_next(it, &v)); /* invalidates the first view */
    streamlog_iter_close(it);
    size_t len = 0;
    const void *d = streamlog_msg_data(c, &len);
    ck_assert_uint_eq(len, 9);
    ck_assert_int_eq(memcmp(d, "message 1", 9), 0);
    ck_assert_uint_eq(streamlog_msg_seq(c), 1);
    ck_assert_int_eq(streamlog_msg_time(c), times[1]);
    streamlog_msg *c2 = (streamlog_msg *)&c2;
    TU_RC(streamlog_msg_copy(NULL, &c2), STREAMLOG_EINVAL);
    ck_assert_ptr_eq(c2, (streamlog_msg *)&c2);
    TU_RC(streamlog_msg_copy(c, NULL), STREAMLOG_EINVAL);
    streamlog_msg_free(c);
    close_all();
}
END_TEST

START_TEST(msg_copy_of_empty_payload)
{
    st = tu_open(NULL);
    ch = tu_chan(st, "c", NULL);
    tu_append(ch, NULL, 0);
    streamlog_msg *m = NULL, *c = NULL;
    TU_OK(streamlog_get(ch, 1, &m));
    TU_OK(streamlog_msg_copy(m, &c));
    size_t len = 5;
    (void)streamlog_msg_data(c, &len);
    ck_assert_uint_eq(len, 0);
    ck_assert_uint_eq(streamlog_msg_seq(c), 1);
    streamlog_msg_free(m);
    streamlog_msg_free(c);
    close_all();
}
END_TEST

START_TEST(accessors_null)
{
    ck_assert_uint_eq(streamlog_msg_seq(NULL), 0);
    ck_assert_int_eq(streamlog_msg_time(NULL), 0);
    size_t len = 1234;
    ck_assert_ptr_null(streamlog_msg_data(NULL, &len));
    ck_assert_uint_eq(len, 0);
    ck_assert_ptr_null(streamlog_msg_data(NULL, NULL));
    streamlog_msg_free(NULL);
}
END_TEST

START_TEST(data_len_pointer_optional)
{
    fill_channel(1, 0);
    streamlog_msg *m = NULL;
    TU_OK(streamlog_get(ch, 1, &m));
    const void *d = streamlog_msg_data(m, NULL);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(memcmp(d, "message 1", 9), 0);
    streamlog_msg_free(m);
    close_all();
}
END_TEST

/* ---- iterator start positions ---- */

START_TEST(start_first)
{
    fill_channel(10, 0);
    streamlog_iter *it = open_iter(STREAMLOG_START_FIRST, 0);
    expect_range(it, 1, 10);
    streamlog_iter_close(it);
    /* start_value is ignored for FIRST. */
    it = open_iter(STREAMLOG_START_FIRST, -12345);
    expect_range(it, 1, 10);
    streamlog_iter_close(it);
    /* After pruning, FIRST is the first still stored. */
    streamlog_channel *h = tu_chan1(st, "c", STREAMLOG_OPT_MAX_MSGS, 4);
    streamlog_channel_close(h);
    it = open_iter(STREAMLOG_START_FIRST, 0);
    expect_range(it, 7, 10);
    streamlog_iter_close(it);
    close_all();
}
END_TEST

START_TEST(start_first_empty_channel)
{
    st = tu_open(NULL);
    ch = tu_chan(st, "c", NULL);
    streamlog_iter *it = open_iter(STREAMLOG_START_FIRST, 0);
    const streamlog_msg *m;
    TU_RC(streamlog_iter_next(it, &m), STREAMLOG_EAGAIN);
    TU_RC(streamlog_iter_next(it, &m), STREAMLOG_EAGAIN);
    append_next(1);
    append_next(2);
    expect_range(it, 1, 2);
    streamlog_iter_close(it);
    close_all();
}
END_TEST

START_TEST(start_new_only)
{
    fill_channel(10, 0);
    streamlog_iter *it = open_iter(STREAMLOG_START_NEW_ONLY, 0);
    uint64_t pos = 0;
    TU_OK(streamlog_iter_position(it, &pos));
    ck_assert_uint_eq(pos, 11);
    const streamlog_msg *m;
    TU_RC(streamlog_iter_next(it, &m), STREAMLOG_EAGAIN);
    append_next(11);
    append_next(12);
    expect_range(it, 11, 12);
    streamlog_iter_close(it);
    /* start_value ignored. */
    it = open_iter(STREAMLOG_START_NEW_ONLY, -1);
    TU_RC(streamlog_iter_next(it, &m), STREAMLOG_EAGAIN);
    streamlog_iter_close(it);
    close_all();
}
END_TEST

START_TEST(start_last_received)
{
    fill_channel(10, 0);
    streamlog_iter *it = open_iter(STREAMLOG_START_LAST_RECEIVED, 0);
    uint64_t pos = 0;
    TU_OK(streamlog_iter_position(it, &pos));
    ck_assert_uint_eq(pos, 10);
    expect_range(it, 10, 10);
    append_next(11);
    expect_range(it, 11, 11);
    streamlog_iter_close(it);
    it = open_iter(STREAMLOG_START_LAST_RECEIVED, -7); /* value ignored */
    expect_range(it, 11, 11);
    streamlog_iter_close(it);
    close_all();
}
END_TEST

START_TEST(start_last_received_empty_channel)
{
    st = tu_open(NULL);
    ch = tu_chan(st, "c", NULL);
    streamlog_iter *it = open_iter(STREAMLOG_START_LAST_RECEIVED, 0);
    const streamlog_msg *m;
    TU_RC(streamlog_iter_next(it, &m), STREAMLOG_EAGAIN);
    append_next(1);
    expect_range(it, 1, 1);
    streamlog_iter_close(it);
    close_all();
}
END_TEST

START_TEST(start_sequence)
{
    fill_channel(10, 0);
    struct {
        int64_t value;
        uint64_t first;
    } cases[] = { { 0, 1 }, { 1, 1 }, { 2, 2 }, { 5, 5 }, { 10, 10 } };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        streamlog_iter *it = open_iter(STREAMLOG_START_SEQUENCE, cases[i].value);
        uint64_t pos = 0;
        TU_OK(streamlog_iter_position(it, &pos));
        ck_assert_uint_eq(pos, cases[i].first);
        expect_range(it, cases[i].first, 10);
        streamlog_iter_close(it);
    }
    close_all();
}
END_TEST

START_TEST(start_sequence_above_last)
{
    fill_channel(10, 0);
    int64_t values[] = { 11, 12, 100, INT64_MAX };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        streamlog_iter *it = open_iter(STREAMLOG_START_SEQUENCE, values[i]);
        const streamlog_msg *m;
        TU_RC(streamlog_iter_next(it, &m), STREAMLOG_EAGAIN);
        uint64_t pos = 0;
        TU_OK(streamlog_iter_position(it, &pos));
        uint64_t next = 11 + i;
        ck_assert_msg(pos == next, "SEQUENCE %lld: position %llu, expected %llu (new only)",
                      (long long)values[i], (unsigned long long)pos,
                      (unsigned long long)next);
        /* "new messages only": the next appended message is delivered. */
        append_next(next);
        expect_range(it, next, next);
        streamlog_iter_close(it);
    }
    close_all();
}
END_TEST

START_TEST(start_sequence_below_first)
{
    fill_channel(10, 0);
    streamlog_channel *h = tu_chan1(st, "c", STREAMLOG_OPT_MAX_MSGS, 3);
    streamlog_channel_close(h);
    int64_t values[] = { 0, 1, 5, 7, 8 };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        streamlog_iter *it = open_iter(STREAMLOG_START_SEQUENCE, values[i]);
        expect_range(it, 8, 10);
        streamlog_iter_close(it);
    }
    streamlog_iter *it = open_iter(STREAMLOG_START_SEQUENCE, 9);
    expect_range(it, 9, 10);
    streamlog_iter_close(it);
    close_all();
}
END_TEST

START_TEST(start_time)
{
    fill_channel(10, 2);
    struct {
        int64_t value;
        uint64_t first;
    } cases[] = {
        { 0, 1 },
        { times[1] - 1000000, 1 },
        { times[1], 1 },
        { times[1] + 1, 2 },
        { times[5] - 1, 5 },
        { times[5], 5 },
        { times[5] + 1, 6 },
        { times[10], 10 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        streamlog_iter *it = open_iter(STREAMLOG_START_TIME, cases[i].value);
        expect_range(it, cases[i].first, 10);
        streamlog_iter_close(it);
    }
    /* After the last message: new messages only. */
    int64_t after[] = { times[10] + 1, tu_now_ns() + 3600LL * 1000000000, INT64_MAX };
    for (size_t i = 0; i < 3; i++) {
        streamlog_iter *it = open_iter(STREAMLOG_START_TIME, after[i]);
        const streamlog_msg *m;
        TU_RC(streamlog_iter_next(it, &m), STREAMLOG_EAGAIN);
        append_next(11 + i);
        expect_range(it, 11 + i, 11 + i);
        streamlog_iter_close(it);
    }
    close_all();
}
END_TEST

START_TEST(start_time_delta)
{
    st = tu_open(NULL);
    ch = tu_chan(st, "c", NULL);
    for (uint64_t i = 1; i <= 5; i++)
        append_next(i);
    tu_sleep_ms(400);
    for (uint64_t i = 6; i <= 10; i++)
        append_next(i);
    /* 200 ms back: the second group only. */
    streamlog_iter *it = open_iter(STREAMLOG_START_TIME_DELTA, 200LL * 1000000);
    expect_range(it, 6, 10);
    streamlog_iter_close(it);
    /* A day back: everything. */
    it = open_iter(STREAMLOG_START_TIME_DELTA, 86400LL * 1000000000);
    expect_range(it, 1, 10);
    streamlog_iter_close(it);
    /* Larger than now itself. */
    it = open_iter(STREAMLOG_START_TIME_DELTA, INT64_MAX);
    expect_range(it, 1, 10);
    streamlog_iter_close(it);
    /* 0: nothing stored is newer than now: new messages only. */
    it = open_iter(STREAMLOG_START_TIME_DELTA, 0);
    const streamlog_msg *m;
    TU_RC(streamlog_iter_next(it, &m), STREAMLOG_EAGAIN);
    append_next(11);
    expect_range(it, 11, 11);
    streamlog_iter_close(it);
    close_all();
}
END_TEST

/* Seeking by time with runs of equal timestamps (batches), checked for
 * every message against a linear scan. */
START_TEST(seek_time_exhaustive)
{
    st = tu_open(NULL);
    ch = tu_chan(st, "c", NULL);
    enum { N = 300 };
    static int64_t t[N + 1];
    uint64_t seq = 0;
    while (seq < N) {
        int n = (int)(seq % 7) + 1;
        if (seq + (uint64_t)n > N)
            n = (int)(N - seq);
        const void *d[8];
        size_t l[8];
        for (int k = 0; k < n; k++) {
            d[k] = "p";
            l[k] = 1;
        }
        uint64_t first = 0;
        TU_OK(streamlog_append_batch(ch, d, l, (size_t)n, &first));
        ck_assert_uint_eq(first, seq + 1);
        seq += (uint64_t)n;
    }
    for (uint64_t s = 1; s <= N; s++) {
        streamlog_msg *m = NULL;
        TU_OK(streamlog_get(ch, s, &m));
        t[s] = streamlog_msg_time(m);
        streamlog_msg_free(m);
        if (s > 1)
            ck_assert_int_ge(t[s], t[s - 1]);
    }
    for (uint64_t s = 1; s <= N; s++) {
        int64_t probes[3] = { t[s] - 1, t[s], t[s] + 1 };
        for (int p = 0; p < 3; p++) {
            uint64_t exp = 0;
            for (uint64_t j = 1; j <= N; j++)
                if (t[j] >= probes[p]) {
                    exp = j;
                    break;
                }
            streamlog_iter *it = open_iter(STREAMLOG_START_TIME, probes[p]);
            const streamlog_msg *m = NULL;
            int rc = streamlog_iter_next(it, &m);
            if (exp == 0) {
                ck_assert_msg(rc == STREAMLOG_EAGAIN, "time %lld: expected EAGAIN, got %s",
                              (long long)probes[p], tu_name(rc));
            } else {
                ck_assert_msg(rc == STREAMLOG_OK, "time %lld: %s", (long long)probes[p],
                              tu_name(rc));
                ck_assert_msg(streamlog_msg_seq(m) == exp,
                              "TIME %lld: started at %llu, expected %llu",
                              (long long)probes[p], (unsigned long long)streamlog_msg_seq(m),
                              (unsigned long long)exp);
            }
            streamlog_iter_close(it);
        }
    }
    close_all();
}
END_TEST

START_TEST(bad_start_values)
{
    fill_channel(3, 0);
    int starts[] = { STREAMLOG_START_TIME_DELTA, STREAMLOG_START_SEQUENCE, STREAMLOG_START_TIME };
    int64_t bad[] = { -1, -1000, INT64_MIN };
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++) {
            streamlog_iter *it = (streamlog_iter *)&it;
            int rc = streamlog_iter_open(ch, starts[i], bad[j], &it);
            ck_assert_msg(rc == STREAMLOG_EINVAL, "start %d value %lld: got %s", starts[i],
                          (long long)bad[j], tu_name(rc));
            ck_assert_ptr_eq(it, (streamlog_iter *)&it);
        }
    int unknown[] = { -1, 6, 7, 100, -100 };
    for (size_t i = 0; i < 5; i++) {
        streamlog_iter *it = (streamlog_iter *)&it;
        int rc = streamlog_iter_open(ch, unknown[i], 0, &it);
        ck_assert_msg(rc == STREAMLOG_EINVAL, "unknown start %d: got %s", unknown[i],
                      tu_name(rc));
        ck_assert_ptr_eq(it, (streamlog_iter *)&it);
    }
    streamlog_iter *it = NULL;
    TU_RC(streamlog_iter_open(NULL, STREAMLOG_START_FIRST, 0, &it), STREAMLOG_EINVAL);
    TU_RC(streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, NULL), STREAMLOG_EINVAL);
    /* None of the failures left an iterator open: the store closes. */
    close_all();
}
END_TEST

/* ---- iterating ---- */

START_TEST(position_tracks_progress)
{
    fill_channel(5, 0);
    streamlog_iter *it = open_iter(STREAMLOG_START_FIRST, 0);
    uint64_t pos = 0;
    TU_OK(streamlog_iter_position(it, &pos));
    ck_assert_uint_eq(pos, 1);
    const streamlog_msg *m;
    for (uint64_t s = 1; s <= 5; s++) {
        TU_OK(streamlog_iter_next(it, &m));
        TU_OK(streamlog_iter_position(it, &pos));
        ck_assert_uint_eq(pos, s + 1);
    }
    TU_RC(streamlog_iter_next(it, &m), STREAMLOG_EAGAIN);
    TU_OK(streamlog_iter_position(it, &pos));
    ck_assert_uint_eq(pos, 6);
    pos = 99;
    TU_RC(streamlog_iter_position(it, NULL), STREAMLOG_EINVAL);
    TU_RC(streamlog_iter_position(NULL, &pos), STREAMLOG_EINVAL);
    ck_assert_uint_eq(pos, 99);
    TU_RC(streamlog_iter_next(it, NULL), STREAMLOG_EINVAL);
    m = (const streamlog_msg *)&m;
    TU_RC(streamlog_iter_next(NULL, &m), STREAMLOG_EINVAL);
    ck_assert_ptr_eq(m, (const streamlog_msg *)&m);
    streamlog_iter_close(it);
    streamlog_iter_close(NULL);
    close_all();
}
END_TEST

START_TEST(catch_up_then_follow)
{
    st = tu_open(NULL);
    ch = tu_chan(st, "c", NULL);
    streamlog_iter *it = open_iter(STREAMLOG_START_FIRST, 0);
    const streamlog_msg *m;
    for (uint64_t s = 1; s <= 500; s++) {
        TU_RC(streamlog_iter_next(it, &m), STREAMLOG_EAGAIN);
        append_next(s);
        if (s % 3 == 0) {
            append_next(s + 1);
            expect_range(it, s, s + 1);
            s++;
        } else {
            expect_range(it, s, s);
        }
    }
    streamlog_iter_close(it);
    close_all();
}
END_TEST

/* Pruned while the iterator was idle (opened, or caught up): it resumes at
 * the first message still stored. */
START_TEST(idle_iterator_skips_removed)
{
    fill_channel(10, 0);
    streamlog_iter *fresh = open_iter(STREAMLOG_START_FIRST, 0);
    streamlog_iter *it = open_iter(STREAMLOG_START_SEQUENCE, 4);
    expect_range(it, 4, 10);
    append_next(11);
    streamlog_channel *h = tu_chan1(st, "c", STREAMLOG_OPT_MAX_MSGS, 3);
    streamlog_channel_close(h);
    expect_range(fresh, 9, 11);
    expect_range(it, 11, 11);
    streamlog_iter_close(it);
    streamlog_iter_close(fresh);
    close_all();
}
END_TEST

/* Pruned while the iterator's last view is live: its next call skips the
 * removed messages ("Messages removed by limits ... are skipped"). */
START_TEST(skips_messages_removed_by_limits)
{
    fill_channel(10, 0);
    streamlog_iter *it = open_iter(STREAMLOG_START_FIRST, 0);
    const streamlog_msg *m;
    TU_OK(streamlog_iter_next(it, &m));
    TU_OK(streamlog_iter_next(it, &m));
    ck_assert_uint_eq(streamlog_msg_seq(m), 2);
    /* Now prune to the last 3: the iterator continues at 8. */
    streamlog_channel *h = tu_chan1(st, "c", STREAMLOG_OPT_MAX_MSGS, 3);
    streamlog_channel_close(h);
    int rc = streamlog_iter_next(it, &m);
    ck_assert_msg(rc == STREAMLOG_OK, "iter_next after pruning: %s", tu_name(rc));
    ck_assert_msg(streamlog_msg_seq(m) == 8,
                  "iter_next after pruning to 8..10 returned removed message %llu",
                  (unsigned long long)streamlog_msg_seq(m));
    expect_range(it, 9, 10);
    streamlog_iter_close(it);
    close_all();
}
END_TEST

START_TEST(iterator_outlives_channel_handle)
{
    fill_channel(3, 0);
    streamlog_iter *it = open_iter(STREAMLOG_START_FIRST, 0);
    streamlog_channel_close(ch);
    ch = tu_chan(st, "c", NULL);
    expect_range(it, 1, 3);
    append_next(4);
    expect_range(it, 4, 4);
    streamlog_iter_close(it);
    close_all();
}
END_TEST

/* A view stays intact until the next call on its iterator, even while
 * other appends free and reuse pages. */
START_TEST(view_stable_while_others_write)
{
    st = tu_open1(STREAMLOG_OPT_SYNC, STREAMLOG_SYNC_NONE);
    ch = tu_chan1(st, "c", STREAMLOG_OPT_MAX_MSGS, 2);
    enum { LEN = 3000 };
    static unsigned char buf[LEN];
    tu_fill(buf, LEN, 5, 1);
    tu_append(ch, buf, LEN);
    streamlog_iter *it = open_iter(STREAMLOG_START_FIRST, 0);
    const streamlog_msg *v = NULL;
    TU_OK(streamlog_iter_next(it, &v));
    ck_assert_uint_eq(streamlog_msg_seq(v), 1);
    for (uint64_t i = 2; i <= 300; i++) {
        tu_fill(buf, LEN, 5, i);
        tu_append(ch, buf, LEN);
    }
    size_t len = 0;
    const void *d = streamlog_msg_data(v, &len);
    ck_assert_uint_eq(len, LEN);
    ck_assert_msg(tu_check_fill(d, len, 5, 1), "view changed under the reader");
    ck_assert_uint_eq(streamlog_msg_seq(v), 1);
    /* Next call: skips the pruned ones. */
    TU_OK(streamlog_iter_next(it, &v));
    ck_assert_uint_eq(streamlog_msg_seq(v), 299);
    d = streamlog_msg_data(v, &len);
    ck_assert(tu_check_fill(d, len, 5, 299));
    streamlog_iter_close(it);
    close_all();
}
END_TEST

START_TEST(many_iterators)
{
    fill_channel(5, 0);
    enum { N = 100 };
    streamlog_iter *its[N];
    for (int i = 0; i < N; i++)
        its[i] = open_iter(STREAMLOG_START_SEQUENCE, i % 5 + 1);
    for (int i = 0; i < N; i++)
        expect_range(its[i], (uint64_t)(i % 5 + 1), 5);
    append_next(6);
    for (int i = 0; i < N; i++)
        expect_range(its[i], 6, 6);
    for (int i = 0; i < N; i++)
        streamlog_iter_close(its[i]);
    close_all();
}
END_TEST

START_TEST(large_messages_via_iterator)
{
    st = tu_open(NULL);
    ch = tu_chan(st, "c", NULL);
    size_t sizes[] = { 0, 1, 4000, 4096, 5000, 100000, 1 << 20 };
    unsigned char *buf = malloc(1 << 20);
    ck_assert_ptr_nonnull(buf);
    for (size_t i = 0; i < 7; i++) {
        tu_fill(buf, sizes[i], 11, i);
        tu_append(ch, buf, sizes[i]);
    }
    free(buf);
    streamlog_iter *it = open_iter(STREAMLOG_START_FIRST, 0);
    for (size_t i = 0; i < 7; i++) {
        const streamlog_msg *m;
        TU_OK(streamlog_iter_next(it, &m));
        size_t len = 0;
        const void *d = streamlog_msg_data(m, &len);
        ck_assert_uint_eq(len, sizes[i]);
        ck_assert(tu_check_fill(d, len, 11, i));
    }
    streamlog_iter_close(it);
    close_all();
}
END_TEST

/* Every iterator holding a view takes one of the store's reader slots;
 * beyond STREAMLOG_OPT_MAX_READERS reads fail with EREADERS, not EBUSY, and
 * work again as soon as a slot is released. */
START_TEST(reader_slots_run_out)
{
    enum { SLOTS = 16 };
    streamlog_store *st = tu_open1(STREAMLOG_OPT_MAX_READERS, SLOTS);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    tu_append_str(ch, "m");
    streamlog_iter *its[SLOTS + 1];
    int held = 0, rc = STREAMLOG_OK;
    while (held <= SLOTS) {
        const streamlog_msg *m;
        if ((rc = streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &its[held])))
            break;
        rc = streamlog_iter_next(its[held++], &m);
        if (rc != STREAMLOG_OK)
            break;
    }
    ck_assert_msg(rc == STREAMLOG_EREADERS, "after %d views: %s, expected EREADERS", held, tu_name(rc));
    ck_assert_int_le(held, SLOTS);
    ck_assert_ptr_nonnull(strstr(streamlog_errmsg(), "MAX_READERS"));
    streamlog_iter_close(its[--held]); /* frees a slot */
    streamlog_msg *copy;
    TU_OK(streamlog_get(ch, 1, &copy));
    streamlog_msg_free(copy);
    while (held > 0)
        streamlog_iter_close(its[--held]);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

static Suite *read_suite(void)
{
    Suite *s = suite_create("read");
    TCase *tc = tu_tcase("get", 0);
    tcase_add_test(tc, get_owned_copy);
    tcase_add_test(tc, get_not_found);
    tcase_add_test(tc, get_from_other_channel_is_separate);
    tcase_add_test(tc, msg_copy_of_view);
    tcase_add_test(tc, msg_copy_of_empty_payload);
    tcase_add_test(tc, accessors_null);
    tcase_add_test(tc, data_len_pointer_optional);
    suite_add_tcase(s, tc);

    tc = tu_tcase("start", 0);
    tcase_add_test(tc, start_first);
    tcase_add_test(tc, start_first_empty_channel);
    tcase_add_test(tc, start_new_only);
    tcase_add_test(tc, start_last_received);
    tcase_add_test(tc, start_last_received_empty_channel);
    tcase_add_test(tc, start_sequence);
    tcase_add_test(tc, start_sequence_above_last);
    tcase_add_test(tc, start_sequence_below_first);
    tcase_add_test(tc, start_time);
    tcase_add_test(tc, start_time_delta);
    tcase_add_test(tc, seek_time_exhaustive);
    tcase_add_test(tc, bad_start_values);
    suite_add_tcase(s, tc);

    tc = tu_tcase("iterate", 0);
    tcase_add_test(tc, position_tracks_progress);
    tcase_add_test(tc, catch_up_then_follow);
    tcase_add_test(tc, idle_iterator_skips_removed);
    tcase_add_test(tc, skips_messages_removed_by_limits);
    tcase_add_test(tc, iterator_outlives_channel_handle);
    tcase_add_test(tc, view_stable_while_others_write);
    tcase_add_test(tc, many_iterators);
    tcase_add_test(tc, large_messages_via_iterator);
    tcase_add_test(tc, reader_slots_run_out);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(read_suite());
}
