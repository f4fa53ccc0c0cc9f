/*
 * test_full.c - a store made full: MAX_STORE_BYTES of 1 MiB filled until
 * EFULL; afterwards reads, deletions and limit changes keep working and
 * appends work again once space is freed; retention keeps a bounded channel
 * inside a bounded store.
 */
#define _GNU_SOURCE
#include "test_util.h"

#include <pthread.h>
#include <string.h>

#define MIB ((int64_t)1 << 20)

enum { PAYLOAD = 4000 };

/* Append PAYLOAD-byte messages until EFULL; return how many were stored.
 * Fails the test if EFULL never comes within 4 MiB of payload, or if any
 * other error occurs. */
static uint64_t fill(streamlog_channel *ch, uint64_t tag)
{
    static unsigned char buf[PAYLOAD];
    streamlog_channel_stats before = tu_stats(ch);
    uint64_t n = 0;
    for (;;) {
        tu_fill(buf, PAYLOAD, tag, n);
        uint64_t seq = 4242;
        int rc = streamlog_append(ch, buf, PAYLOAD, &seq);
        if (rc == STREAMLOG_EFULL) {
            ck_assert_uint_eq(seq, 4242);
            break;
        }
        ck_assert_msg(rc == STREAMLOG_OK, "append %llu: %s [%s]", (unsigned long long)n,
                      tu_name(rc), tu_errmsg_safe());
        ck_assert_uint_eq(seq, before.last_seq + n + 1);
        n++;
        ck_assert_msg(n * PAYLOAD <= (uint64_t)(4 * MIB),
                      "no EFULL after %llu bytes in a 1 MiB store",
                      (unsigned long long)(n * PAYLOAD));
    }
    /* Nothing was written by the failed append. */
    streamlog_channel_stats after = tu_stats(ch);
    ck_assert_uint_eq(after.last_seq, before.last_seq + n);
    ck_assert_uint_eq(after.msgs, before.msgs + n);
    return n;
}

static void verify(streamlog_channel *ch, uint64_t first_seq, uint64_t n, uint64_t tag)
{
    static unsigned char buf[PAYLOAD];
    for (uint64_t i = 0; i < n; i++) {
        tu_fill(buf, PAYLOAD, tag, i);
        tu_expect_msg(ch, first_seq + i, buf, PAYLOAD);
    }
}

START_TEST(fill_until_efull)
{
    streamlog_store *st = tu_open2(STREAMLOG_OPT_MAX_STORE_BYTES, MIB, STREAMLOG_OPT_SYNC,
                                   STREAMLOG_SYNC_NONE);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    uint64_t n = fill(ch, 1);
    /* A 1 MiB store holds a fair share of 1 MiB of payload, and no more. */
    ck_assert_msg(n * PAYLOAD >= (uint64_t)(MIB / 4),
                  "EFULL after only %llu bytes of payload in a 1 MiB store",
                  (unsigned long long)(n * PAYLOAD));
    ck_assert_msg(n * PAYLOAD <= (uint64_t)MIB, "%llu bytes of payload stored in a 1 MiB store",
                  (unsigned long long)(n * PAYLOAD));

    /* EFULL again, for single, expect and batch appends; nothing written. */
    static unsigned char buf[PAYLOAD];
    TU_RC(streamlog_append(ch, buf, PAYLOAD, NULL), STREAMLOG_EFULL);
    TU_RC(streamlog_append_expect(ch, buf, PAYLOAD, n, NULL), STREAMLOG_EFULL);
    const void *d[3] = { buf, buf, buf };
    size_t l[3] = { PAYLOAD, PAYLOAD, PAYLOAD };
    TU_RC(streamlog_append_batch(ch, d, l, 3, NULL), STREAMLOG_EFULL);
    streamlog_channel_stats s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, n);
    ck_assert_uint_eq(s.last_seq, n);
    ck_assert_uint_eq(s.bytes, n * PAYLOAD);

    /* Reads work. */
    verify(ch, 1, n, 1);
    streamlog_iter *it = NULL;
    TU_OK(streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &it));
    const streamlog_msg *m;
    for (uint64_t q = 1; q <= n; q++) {
        TU_OK(streamlog_iter_next(it, &m));
        ck_assert_uint_eq(streamlog_msg_seq(m), q);
    }
    TU_RC(streamlog_iter_next(it, &m), STREAMLOG_EAGAIN);
    streamlog_iter_close(it);
    /* An existing channel still opens. */
    streamlog_channel *again = NULL;
    TU_OK(streamlog_channel_open(st, "c", 0, NULL, &again));
    streamlog_channel_close(again);
    TU_OK(streamlog_sync(st));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(delete_frees_space)
{
    streamlog_store *st = tu_open2(STREAMLOG_OPT_MAX_STORE_BYTES, MIB, STREAMLOG_OPT_SYNC,
                                   STREAMLOG_SYNC_NONE);
    streamlog_channel *keep = tu_chan(st, "keep", NULL);
    tu_append_str(keep, "survivor");
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    uint64_t n1 = fill(ch, 1);
    ck_assert_uint_gt(n1, 0);
    streamlog_channel_close(ch);
    TU_OK(streamlog_channel_delete(st, "c"));
    tu_expect_msg(keep, 1, "survivor", 8);

    /* Space is back: a new channel takes about as much again, several times
     * over (freed pages are reused, not leaked). */
    for (int round = 0; round < 5; round++) {
        ch = tu_chan(st, "c", NULL);
        uint64_t n = fill(ch, 10 + (uint64_t)round);
        ck_assert_msg(n >= n1 / 2, "round %d: only %llu messages fit after delete (first %llu)",
                      round, (unsigned long long)n, (unsigned long long)n1);
        verify(ch, 1, n, 10 + (uint64_t)round);
        streamlog_channel_close(ch);
        TU_OK(streamlog_channel_delete(st, "c"));
    }
    ck_assert_uint_eq(tu_append_str(keep, "still here"), 2);
    streamlog_channel_close(keep);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(lowering_limits_when_full)
{
    streamlog_store *st = tu_open2(STREAMLOG_OPT_MAX_STORE_BYTES, MIB, STREAMLOG_OPT_SYNC,
                                   STREAMLOG_SYNC_NONE);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    uint64_t n = fill(ch, 1);
    /* Pruning is a deletion: it must work on a full store. */
    streamlog_channel *h = tu_chan1(st, "c", STREAMLOG_OPT_MAX_MSGS, 2);
    streamlog_channel_close(h);
    streamlog_channel_stats s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, 2);
    ck_assert_uint_eq(s.first_seq, n - 1);
    /* And appends work again, pruned as they go. */
    static unsigned char buf[PAYLOAD];
    for (int i = 0; i < 3 * (int)n; i++)
        tu_append(ch, buf, PAYLOAD);
    s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, 2);
    ck_assert_uint_eq(s.last_seq, n + 3 * n);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* A channel bounded by max_msgs never fills a bounded store. */
START_TEST(retention_keeps_store_bounded)
{
    streamlog_store *st = tu_open2(STREAMLOG_OPT_MAX_STORE_BYTES, MIB, STREAMLOG_OPT_SYNC,
                                   STREAMLOG_SYNC_NONE);
    streamlog_channel *ch = tu_chan1(st, "c", STREAMLOG_OPT_MAX_MSGS, 50);
    static unsigned char buf[PAYLOAD];
    for (uint64_t i = 1; i <= 2000; i++) {
        tu_fill(buf, PAYLOAD, 3, i);
        uint64_t seq = 0;
        int rc = streamlog_append(ch, buf, PAYLOAD, &seq);
        ck_assert_msg(rc == STREAMLOG_OK, "append %llu into a 50-message channel: %s [%s]",
                      (unsigned long long)i, tu_name(rc), tu_errmsg_safe());
        ck_assert_uint_eq(seq, i);
    }
    streamlog_channel_stats s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, 50);
    ck_assert_uint_eq(s.first_seq, 1951);
    tu_fill(buf, PAYLOAD, 3, 2000);
    tu_expect_msg(ch, 2000, buf, PAYLOAD);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(batch_too_big_for_store)
{
    streamlog_store *st = tu_open2(STREAMLOG_OPT_MAX_STORE_BYTES, MIB, STREAMLOG_OPT_SYNC,
                                   STREAMLOG_SYNC_NONE);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    tu_append_str(ch, "before");
    enum { N = 400 };
    static unsigned char buf[PAYLOAD];
    const void *d[N];
    size_t l[N];
    for (int i = 0; i < N; i++) {
        d[i] = buf;
        l[i] = PAYLOAD;
    }
    /* 1.6 MB in one batch: all or none, so none. */
    uint64_t seq = 4242;
    TU_RC(streamlog_append_batch(ch, d, l, N, &seq), STREAMLOG_EFULL);
    ck_assert_uint_eq(seq, 4242);
    streamlog_channel_stats s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, 1);
    ck_assert_uint_eq(s.last_seq, 1);
    /* A batch that fits still goes in. */
    TU_OK(streamlog_append_batch(ch, d, l, 10, &seq));
    ck_assert_uint_eq(seq, 2);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* Group commit puts concurrent appends into one transaction; a batch that
 * finds the store full only after writing must fail alone, the appends
 * committed with it intact. */
enum { SMALL_THREADS = 3, SMALL_EACH = 300, BIG_N = 400 };

struct small_arg {
    streamlog_channel *ch;
    int id;
    int failures;
    int done;
};

static void *small_appender(void *p)
{
    struct small_arg *a = p;
    unsigned char buf[100];
    for (int i = 0; i < SMALL_EACH; i++) {
        tu_fill(buf, sizeof buf, (uint64_t)a->id, (uint64_t)i);
        a->failures += streamlog_append(a->ch, buf, sizeof buf, NULL) != STREAMLOG_OK;
    }
    __atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

START_TEST(too_big_batch_among_concurrent_appends)
{
    streamlog_store *st = tu_open2(STREAMLOG_OPT_MAX_STORE_BYTES, MIB, STREAMLOG_OPT_SYNC,
                                   STREAMLOG_SYNC_NONE);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    static unsigned char big[PAYLOAD];
    const void *d[BIG_N];
    size_t l[BIG_N];
    for (int i = 0; i < BIG_N; i++) {
        d[i] = big;
        l[i] = PAYLOAD;
    }
    pthread_t tid[SMALL_THREADS];
    struct small_arg args[SMALL_THREADS];
    for (int t = 0; t < SMALL_THREADS; t++) {
        args[t] = (struct small_arg){ ch, t, 0, 0 };
        ck_assert_int_eq(pthread_create(&tid[t], NULL, small_appender, &args[t]), 0);
    }
    /* the too-big batch again and again while the small appenders run */
    int running = SMALL_THREADS;
    while (running > 0) {
        TU_RC(streamlog_append_batch(ch, d, l, BIG_N, NULL), STREAMLOG_EFULL);
        running = 0;
        for (int t = 0; t < SMALL_THREADS; t++)
            running += !__atomic_load_n(&args[t].done, __ATOMIC_ACQUIRE);
    }
    for (int t = 0; t < SMALL_THREADS; t++) {
        pthread_join(tid[t], NULL);
        ck_assert_int_eq(args[t].failures, 0);
    }
    /* exactly the small messages, each once */
    streamlog_channel_stats s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, SMALL_THREADS * SMALL_EACH);
    ck_assert_uint_eq(s.last_seq, SMALL_THREADS * SMALL_EACH);
    int next[SMALL_THREADS] = { 0 };
    streamlog_iter *it;
    const streamlog_msg *m;
    TU_OK(streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &it));
    while (streamlog_iter_next(it, &m) == STREAMLOG_OK) {
        size_t len;
        const unsigned char *p = streamlog_msg_data(m, &len);
        ck_assert_uint_eq(len, 100);
        int found = 0;
        for (int t = 0; t < SMALL_THREADS && !found; t++)
            if (next[t] < SMALL_EACH && tu_check_fill(p, len, (uint64_t)t, (uint64_t)next[t])) {
                next[t]++;
                found = 1;
            }
        ck_assert_msg(found, "message %llu is no small appender's next message",
                      (unsigned long long)streamlog_msg_seq(m));
    }
    streamlog_iter_close(it);
    for (int t = 0; t < SMALL_THREADS; t++)
        ck_assert_int_eq(next[t], SMALL_EACH);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(full_store_reopens)
{
    streamlog_store *st = tu_open2(STREAMLOG_OPT_MAX_STORE_BYTES, MIB, STREAMLOG_OPT_SYNC,
                                   STREAMLOG_SYNC_NONE);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    uint64_t n = fill(ch, 1);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));

    /* Same limit: still full, still readable. */
    st = tu_open1(STREAMLOG_OPT_MAX_STORE_BYTES, MIB);
    ch = NULL;
    TU_OK(streamlog_channel_open(st, "c", 0, NULL, &ch));
    verify(ch, 1, n, 1);
    static unsigned char buf[PAYLOAD];
    TU_RC(streamlog_append(ch, buf, PAYLOAD, NULL), STREAMLOG_EFULL);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));

    /* A larger limit: room again. */
    st = tu_open1(STREAMLOG_OPT_MAX_STORE_BYTES, 4 * MIB);
    ch = NULL;
    TU_OK(streamlog_channel_open(st, "c", 0, NULL, &ch));
    for (int i = 0; i < 10; i++)
        ck_assert_uint_eq(tu_append(ch, buf, PAYLOAD), n + 1 + (uint64_t)i);
    verify(ch, 1, n, 1);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

static Suite *full_suite(void)
{
    Suite *s = suite_create("full");
    TCase *tc = tu_tcase("full", 0);
    tcase_add_test(tc, fill_until_efull);
    tcase_add_test(tc, delete_frees_space);
    tcase_add_test(tc, lowering_limits_when_full);
    tcase_add_test(tc, retention_keeps_store_bounded);
    tcase_add_test(tc, batch_too_big_for_store);
    tcase_add_test(tc, full_store_reopens);
    tcase_add_test(tc, too_big_batch_among_concurrent_appends);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(full_suite());
}
