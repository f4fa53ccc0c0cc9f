/*
 * test_append.c - append, append_expect and append_batch: good and bad
 * input, sequence numbering, payload limits, all-or-none batches, and
 * commit timestamps.
 */
#define _GNU_SOURCE
#include "test_util.h"

#include <pthread.h>

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static streamlog_store *st;
static streamlog_channel *ch;

static void open_default(void)
{
    st = tu_open(NULL);
    ch = tu_chan(st, "c", NULL);
}

static void close_all(void)
{
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}

static void expect_unchanged(uint64_t msgs, uint64_t last, uint64_t bytes)
{
    streamlog_channel_stats s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, msgs);
    ck_assert_uint_eq(s.last_seq, last);
    ck_assert_uint_eq(s.bytes, bytes);
}

START_TEST(sequences_start_at_one_and_are_contiguous)
{
    open_default();
    unsigned char buf[300];
    for (uint64_t i = 1; i <= 200; i++) {
        size_t len = (size_t)(i * 37 % 300);
        tu_fill(buf, len, 7, i);
        uint64_t seq = 0;
        TU_OK(streamlog_append(ch, buf, len, &seq));
        ck_assert_uint_eq(seq, i);
    }
    for (uint64_t i = 1; i <= 200; i++) {
        size_t len = (size_t)(i * 37 % 300);
        tu_fill(buf, len, 7, i);
        tu_expect_msg(ch, i, buf, len);
    }
    streamlog_channel_stats s = tu_stats(ch);
    ck_assert_uint_eq(s.first_seq, 1);
    ck_assert_uint_eq(s.last_seq, 200);
    ck_assert_uint_eq(s.msgs, 200);
    /* out_seq may be NULL. */
    TU_OK(streamlog_append(ch, "x", 1, NULL));
    ck_assert_uint_eq(tu_stats(ch).last_seq, 201);
    tu_expect_msg(ch, 201, "x", 1);
    close_all();
}
END_TEST

START_TEST(any_bytes_round_trip)
{
    open_default();
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    uint64_t s1 = tu_append(ch, all, sizeof all);
    uint64_t s2 = tu_append(ch, "\0\0\0", 3);
    tu_expect_msg(ch, s1, all, sizeof all);
    tu_expect_msg(ch, s2, "\0\0\0", 3);
    ck_assert_uint_eq(tu_stats(ch).bytes, 259);
    close_all();
}
END_TEST

START_TEST(zero_length_payloads)
{
    open_default();
    ck_assert_uint_eq(tu_append(ch, NULL, 0), 1);
    ck_assert_uint_eq(tu_append(ch, "ignored", 0), 2);
    uint64_t seq = 0;
    TU_OK(streamlog_append_expect(ch, NULL, 0, 2, &seq));
    ck_assert_uint_eq(seq, 3);
    const void *d[2] = { NULL, "x" };
    size_t l[2] = { 0, 0 };
    TU_OK(streamlog_append_batch(ch, d, l, 2, &seq));
    ck_assert_uint_eq(seq, 4);
    streamlog_channel_stats s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, 5);
    ck_assert_uint_eq(s.bytes, 0);
    for (uint64_t i = 1; i <= 5; i++) {
        streamlog_msg *m = NULL;
        TU_OK(streamlog_get(ch, i, &m));
        size_t len = 99;
        (void)streamlog_msg_data(m, &len);
        ck_assert_uint_eq(len, 0);
        ck_assert_uint_eq(streamlog_msg_seq(m), i);
        streamlog_msg_free(m);
    }
    close_all();
}
END_TEST

START_TEST(append_bad_input)
{
    open_default();
    tu_append_str(ch, "a");
    uint64_t seq = 4242;
    TU_RC(streamlog_append(ch, NULL, 1, &seq), STREAMLOG_EINVAL);
    TU_RC(streamlog_append(ch, NULL, 100, &seq), STREAMLOG_EINVAL);
    TU_RC(streamlog_append(NULL, "x", 1, &seq), STREAMLOG_EINVAL);
    TU_RC(streamlog_append_expect(ch, NULL, 1, 1, &seq), STREAMLOG_EINVAL);
    TU_RC(streamlog_append_expect(NULL, "x", 1, 1, &seq), STREAMLOG_EINVAL);
    ck_assert_uint_eq(seq, 4242);
    expect_unchanged(1, 1, 1);
    ck_assert_uint_eq(tu_append_str(ch, "b"), 2);
    close_all();
}
END_TEST

START_TEST(batch_bad_input)
{
    open_default();
    tu_append_str(ch, "a");
    const void *d[3] = { "x", "yy", "zzz" };
    size_t l[3] = { 1, 2, 3 };
    uint64_t seq = 4242;
    TU_RC(streamlog_append_batch(ch, d, l, 0, &seq), STREAMLOG_EINVAL);
    TU_RC(streamlog_append_batch(ch, NULL, l, 3, &seq), STREAMLOG_EINVAL);
    TU_RC(streamlog_append_batch(ch, d, NULL, 3, &seq), STREAMLOG_EINVAL);
    TU_RC(streamlog_append_batch(NULL, d, l, 3, &seq), STREAMLOG_EINVAL);
    /* An entry NULL with a length > 0: the whole batch is refused. */
    const void *dn[3] = { "x", NULL, "zzz" };
    TU_RC(streamlog_append_batch(ch, dn, l, 3, &seq), STREAMLOG_EINVAL);
    ck_assert_uint_eq(seq, 4242);
    expect_unchanged(1, 1, 1);
    /* Sequences were not consumed by the failures. */
    TU_OK(streamlog_append_batch(ch, d, l, 3, &seq));
    ck_assert_uint_eq(seq, 2);
    tu_expect_msg(ch, 2, "x", 1);
    tu_expect_msg(ch, 3, "yy", 2);
    tu_expect_msg(ch, 4, "zzz", 3);
    expect_unchanged(4, 4, 7);
    close_all();
}
END_TEST

START_TEST(batch_contiguous)
{
    open_default();
    enum { N = 5000 };
    static unsigned char bufs[N][40];
    const void *d[N];
    size_t l[N];
    for (int i = 0; i < N; i++) {
        l[i] = (size_t)(i % 41);
        tu_fill(bufs[i], l[i], 3, (uint64_t)i);
        d[i] = bufs[i];
    }
    tu_append_str(ch, "first");
    uint64_t seq = 0;
    TU_OK(streamlog_append_batch(ch, d, l, N, &seq));
    ck_assert_uint_eq(seq, 2);
    TU_OK(streamlog_append_batch(ch, d, l, 1, NULL)); /* out_first_seq NULL */
    streamlog_channel_stats s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, N + 2);
    ck_assert_uint_eq(s.last_seq, N + 2);
    for (int i = 0; i < N; i++)
        tu_expect_msg(ch, (uint64_t)i + 2, bufs[i], l[i]);
    tu_expect_msg(ch, N + 2, bufs[0], l[0]);
    ck_assert_uint_eq(tu_append_str(ch, "after"), N + 3);
    close_all();
}
END_TEST

START_TEST(max_payload_limit)
{
    st = tu_open1(STREAMLOG_OPT_MAX_PAYLOAD, 100);
    ch = tu_chan(st, "c", NULL);
    unsigned char buf[200];
    memset(buf, 'p', sizeof buf);
    ck_assert_uint_eq(tu_append(ch, buf, 100), 1);
    uint64_t seq = 4242;
    TU_RC(streamlog_append(ch, buf, 101, &seq), STREAMLOG_ELIMIT);
    TU_RC(streamlog_append_expect(ch, buf, 101, 1, &seq), STREAMLOG_ELIMIT);
    ck_assert_uint_eq(seq, 4242);
    expect_unchanged(1, 1, 100);
    ck_assert_uint_eq(tu_append(ch, buf, 5), 2);
    close_all();
}
END_TEST

START_TEST(default_max_payload_is_1mib)
{
    open_default();
    size_t mib = (size_t)1 << 20;
    unsigned char *buf = malloc(mib + 1);
    ck_assert_ptr_nonnull(buf);
    tu_fill(buf, mib + 1, 9, 9);
    uint64_t seq = 0;
    TU_OK(streamlog_append(ch, buf, mib, &seq));
    ck_assert_uint_eq(seq, 1);
    TU_RC(streamlog_append(ch, buf, mib + 1, &seq), STREAMLOG_ELIMIT);
    expect_unchanged(1, 1, mib);
    tu_expect_msg(ch, 1, buf, mib);
    free(buf);
    close_all();
}
END_TEST

START_TEST(unlimited_payload_up_to_hard_max)
{
    st = tu_open1(STREAMLOG_OPT_MAX_PAYLOAD, 0);
    ch = tu_chan(st, "c", NULL);
    size_t big = (size_t)3 << 20;
    unsigned char *buf = malloc(big);
    ck_assert_ptr_nonnull(buf);
    tu_fill(buf, big, 1, 2);
    ck_assert_uint_eq(tu_append(ch, buf, big), 1);
    tu_expect_msg(ch, 1, buf, big);
    free(buf);

    /* Beyond the hard maximum: refused before the bytes are read. The
     * region is reserved, not committed, so this costs no memory. */
    size_t over = (size_t)STREAMLOG_PAYLOAD_HARD_MAX + 1;
    void *region = mmap(NULL, over, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                        -1, 0);
    ck_assert_ptr_ne(region, MAP_FAILED);
    uint64_t seq = 4242;
    TU_RC(streamlog_append(ch, region, over, &seq), STREAMLOG_ELIMIT);
    const void *d[1] = { region };
    size_t l[1] = { over };
    TU_RC(streamlog_append_batch(ch, d, l, 1, &seq), STREAMLOG_ELIMIT);
    ck_assert_uint_eq(seq, 4242);
    munmap(region, over);
    expect_unchanged(1, 1, big);
    close_all();
}
END_TEST

START_TEST(huge_lengths_rejected)
{
    open_default();
    unsigned char small[8] = { 0 };
    uint64_t seq = 4242;
    /* Lengths that would overflow any size arithmetic. */
    TU_RC(streamlog_append(ch, small, SIZE_MAX, &seq), STREAMLOG_ELIMIT);
    TU_RC(streamlog_append(ch, small, SIZE_MAX / 2 + 1, &seq), STREAMLOG_ELIMIT);
    const void *d[2] = { small, small };
    size_t l[2] = { SIZE_MAX / 2 + 2, SIZE_MAX / 2 + 2 };
    TU_RC(streamlog_append_batch(ch, d, l, 2, &seq), STREAMLOG_ELIMIT);
    ck_assert_uint_eq(seq, 4242);
    expect_unchanged(0, 0, 0);
    close_all();
}
END_TEST

START_TEST(batch_with_one_oversize_stores_nothing)
{
    st = tu_open1(STREAMLOG_OPT_MAX_PAYLOAD, 50);
    ch = tu_chan(st, "c", NULL);
    tu_append_str(ch, "before");
    static unsigned char big[51];
    const void *d[4] = { "a", "b", big, "d" };
    size_t l[4] = { 1, 1, sizeof big, 1 };
    uint64_t seq = 4242;
    TU_RC(streamlog_append_batch(ch, d, l, 4, &seq), STREAMLOG_ELIMIT);
    ck_assert_uint_eq(seq, 4242);
    expect_unchanged(1, 1, 6);
    streamlog_msg *m = NULL;
    TU_RC(streamlog_get(ch, 2, &m), STREAMLOG_ENOTFOUND);
    /* Oversize last entry too. */
    const void *d2[3] = { "a", "b", big };
    size_t l2[3] = { 1, 1, sizeof big };
    TU_RC(streamlog_append_batch(ch, d2, l2, 3, &seq), STREAMLOG_ELIMIT);
    expect_unchanged(1, 1, 6);
    ck_assert_uint_eq(tu_append_str(ch, "after"), 2);
    close_all();
}
END_TEST

START_TEST(expect_semantics)
{
    open_default();
    uint64_t seq = 4242;
    /* Fresh channel: only 0 matches. */
    TU_RC(streamlog_append_expect(ch, "x", 1, 1, &seq), STREAMLOG_ECONFLICT);
    TU_RC(streamlog_append_expect(ch, "x", 1, UINT64_MAX, &seq), STREAMLOG_ECONFLICT);
    ck_assert_uint_eq(seq, 4242);
    expect_unchanged(0, 0, 0);
    TU_OK(streamlog_append_expect(ch, "a", 1, 0, &seq));
    ck_assert_uint_eq(seq, 1);
    TU_RC(streamlog_append_expect(ch, "x", 1, 0, &seq), STREAMLOG_ECONFLICT);
    tu_append_str(ch, "b");
    tu_append_str(ch, "c");
    seq = 4242;
    TU_RC(streamlog_append_expect(ch, "x", 1, 2, &seq), STREAMLOG_ECONFLICT);
    TU_RC(streamlog_append_expect(ch, "x", 1, 4, &seq), STREAMLOG_ECONFLICT);
    TU_RC(streamlog_append_expect(ch, "x", 1, 0, &seq), STREAMLOG_ECONFLICT);
    ck_assert_uint_eq(seq, 4242);
    expect_unchanged(3, 3, 3);
    TU_OK(streamlog_append_expect(ch, "d", 1, 3, &seq));
    ck_assert_uint_eq(seq, 4);
    TU_OK(streamlog_append_expect(ch, "e", 1, 4, NULL));
    tu_expect_msg(ch, 5, "e", 1);
    expect_unchanged(5, 5, 5);
    close_all();
}
END_TEST

/* Several events of one command: all or none, and none after a conflict. */
START_TEST(batch_expect_semantics)
{
    open_default();
    const void *d[3] = { "e1", "e2", "e3" };
    size_t l[3] = { 2, 2, 2 };
    uint64_t first = 4242;
    TU_RC(streamlog_append_batch_expect(ch, d, l, 3, 1, &first), STREAMLOG_ECONFLICT);
    ck_assert_uint_eq(first, 4242);
    expect_unchanged(0, 0, 0);
    TU_OK(streamlog_append_batch_expect(ch, d, l, 3, 0, &first));
    ck_assert_uint_eq(first, 1);
    tu_expect_msg(ch, 3, "e3", 2);
    /* someone else appended: the whole batch is refused */
    tu_append_str(ch, "other");
    TU_RC(streamlog_append_batch_expect(ch, d, l, 2, 3, &first), STREAMLOG_ECONFLICT);
    expect_unchanged(4, 4, 11);
    TU_OK(streamlog_append_batch_expect(ch, d, l, 2, 4, &first));
    ck_assert_uint_eq(first, 5);
    tu_expect_msg(ch, 6, "e2", 2);
    /* bad input */
    TU_RC(streamlog_append_batch_expect(NULL, d, l, 1, 6, NULL), STREAMLOG_EINVAL);
    TU_RC(streamlog_append_batch_expect(ch, NULL, l, 1, 6, NULL), STREAMLOG_EINVAL);
    TU_RC(streamlog_append_batch_expect(ch, d, NULL, 1, 6, NULL), STREAMLOG_EINVAL);
    TU_RC(streamlog_append_batch_expect(ch, d, l, 0, 6, NULL), STREAMLOG_EINVAL);
    const void *holes[2] = { "x", NULL };
    size_t hole_lens[2] = { 1, 5 };
    TU_RC(streamlog_append_batch_expect(ch, holes, hole_lens, 2, 6, NULL), STREAMLOG_EINVAL);
    expect_unchanged(6, 6, 15);
    close_all();
}
END_TEST

/* Header blocks are stored as given and returned on every read path. */
START_TEST(headers_round_trip)
{
    open_default();
    static const char block[] = "NATS/1.0\r\nType: OrderPlaced\r\nCorrelation-Id:   42\r\nType: second\r\n\r\n";
    uint64_t seq = 0;
    TU_OK(streamlog_append_msg(ch, block, sizeof block - 1, "p", 1, &seq));
    ck_assert_uint_eq(seq, 1);
    tu_append_str(ch, "plain");
    const void *hd[3] = { block, NULL, block };
    size_t hl[3] = { sizeof block - 1, 0, sizeof block - 1 };
    const void *d[3] = { "a", "b", "" };
    size_t l[3] = { 1, 1, 0 };
    TU_OK(streamlog_append_batch_msgs(ch, hd, hl, d, l, 3, &seq));
    ck_assert_uint_eq(seq, 3);
    /* get */
    streamlog_msg *m;
    TU_OK(streamlog_get(ch, 1, &m));
    size_t len;
    const void *h = streamlog_msg_headers(m, &len);
    ck_assert_uint_eq(len, sizeof block - 1);
    ck_assert_int_eq(memcmp(h, block, len), 0);
    tu_expect_msg(ch, 1, "p", 1);
    const void *v;
    size_t vl;
    tu_expect_header(m, "type", "OrderPlaced"); /* case ignored, the first one */
    tu_expect_header(m, "Correlation-Id", "42");
    TU_RC(streamlog_msg_header(m, "Nope", &v, &vl), STREAMLOG_ENOTFOUND);
    TU_RC(streamlog_msg_header(m, NULL, &v, &vl), STREAMLOG_EINVAL);
    TU_RC(streamlog_msg_header(NULL, "Type", &v, &vl), STREAMLOG_EINVAL);
    /* an owned copy keeps them */
    streamlog_msg *copy;
    TU_OK(streamlog_msg_copy(m, &copy));
    streamlog_msg_free(m);
    h = streamlog_msg_headers(copy, &len);
    ck_assert_uint_eq(len, sizeof block - 1);
    ck_assert_int_eq(memcmp(h, block, len), 0);
    streamlog_msg_free(copy);
    /* a message without a block */
    TU_OK(streamlog_get(ch, 2, &m));
    ck_assert_ptr_null(streamlog_msg_headers(m, &len));
    ck_assert_uint_eq(len, 0);
    TU_RC(streamlog_msg_header(m, "Type", &v, &vl), STREAMLOG_ENOTFOUND);
    streamlog_msg_free(m);
    ck_assert_ptr_null(streamlog_msg_headers(NULL, &len));
    /* the iterator's views */
    streamlog_iter *it;
    const streamlog_msg *view;
    TU_OK(streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &it));
    size_t expect_len[5] = { sizeof block - 1, 0, sizeof block - 1, 0, sizeof block - 1 };
    for (int i = 0; i < 5; i++) {
        TU_OK(streamlog_iter_next(it, &view));
        streamlog_msg_headers(view, &len);
        ck_assert_uint_eq(len, expect_len[i]);
    }
    streamlog_iter_close(it);
    /* and a subscription's deliveries */
    streamlog_sub *sub;
    streamlog_opts *o = tu_opts2(STREAMLOG_OPT_START, STREAMLOG_START_FIRST, 0, 0);
    TU_OK(streamlog_subscribe(ch, o, &sub));
    streamlog_opts_free(o);
    TU_OK(streamlog_sub_next(sub, 1000, &view));
    TU_OK(streamlog_msg_header(view, "TYPE", &v, &vl));
    ck_assert_int_eq(memcmp(v, "OrderPlaced", 11), 0);
    TU_OK(streamlog_sub_close(sub));
    streamlog_verify_report rep = { .size = sizeof rep };
    TU_OK(streamlog_verify(st, &rep));
    ck_assert_uint_eq(rep.messages, 5);
    close_all();
}
END_TEST

/* Blocks not in the NATS form are refused, and nothing is stored. */
START_TEST(headers_bad_input)
{
    open_default();
    static const char *const bad[] = {
        "",                                       /* too short */
        "HTTP/1.1\r\n\r\n",                       /* wrong prefix */
        "NATS/1.0\r\nA: b\r\n",                   /* no closing empty line */
        "NATS/1.0\nA: b\n\n",                      /* bare LF */
        "NATS/1.0\r\nno colon\r\n\r\n",           /* not Name: value */
        "NATS/1.0\r\n: empty name\r\n\r\n",
        "NATS/1.0\r\nBad Name: x\r\n\r\n",        /* a blank in the name */
        "NATS/1.0\r\nA: b\r\n\r\ntrailing",       /* bytes after the end */
        "NATS/1.0\r\nA: b\rc\r\n\r\n",           /* bare CR */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = streamlog_append_msg(ch, bad[i], strlen(bad[i]) ? strlen(bad[i]) : 1, "x", 1, NULL);
        ck_assert_msg(rc == STREAMLOG_EINVAL, "block %zu: %s", i, tu_name(rc));
    }
    TU_RC(streamlog_append_msg(ch, NULL, 5, "x", 1, NULL), STREAMLOG_EINVAL);
    TU_RC(streamlog_append_msg(NULL, "NATS/1.0\r\n\r\n", 12, "x", 1, NULL), STREAMLOG_EINVAL);
    size_t hl[1] = { 12 };
    const void *d[1] = { "x" };
    size_t l[1] = { 1 };
    TU_RC(streamlog_append_batch_msgs(ch, NULL, hl, d, l, 1, NULL), STREAMLOG_EINVAL);
    expect_unchanged(0, 0, 0);
    /* the block counts toward MAX_PAYLOAD (1 MiB by default) */
    static unsigned char big[1 << 20];
    TU_RC(streamlog_append_msg(ch, "NATS/1.0\r\n\r\n", 12, big, sizeof big - 4, NULL), STREAMLOG_ELIMIT);
    expect_unchanged(0, 0, 0);
    /* a bare "NATS/1.0" with no headers is a valid block */
    TU_OK(streamlog_append_msg(ch, "NATS/1.0\r\n\r\n", 12, "x", 1, NULL));
    close_all();
}
END_TEST

/* A retried append with the same message id stores nothing and returns the
 * first sequence, also after a reopen; after the window it is new again. */
START_TEST(append_once_semantics)
{
    open_default();
    uint64_t seq = 0;
    int dup = -1;
    TU_OK(streamlog_append_once(ch, "order-1", NULL, 0, "a", 1, &seq, &dup));
    ck_assert_uint_eq(seq, 1);
    ck_assert_int_eq(dup, 0);
    tu_append_str(ch, "plain");
    TU_OK(streamlog_append_once(ch, "order-1", NULL, 0, "a again", 7, &seq, &dup));
    ck_assert_uint_eq(seq, 1);
    ck_assert_int_eq(dup, 1);
    TU_OK(streamlog_append_once(ch, "order-2", "NATS/1.0\r\nA: b\r\n\r\n", 18, "b", 1, &seq, &dup));
    ck_assert_uint_eq(seq, 3);
    ck_assert_int_eq(dup, 0);
    TU_OK(streamlog_append_once(ch, "order-2", NULL, 0, "b", 1, NULL, NULL));
    expect_unchanged(3, 3, 7);
    /* ids are per channel */
    streamlog_channel *other = tu_chan(st, "other", NULL);
    TU_OK(streamlog_append_once(other, "order-1", NULL, 0, "x", 1, &seq, &dup));
    ck_assert_uint_eq(seq, 1);
    ck_assert_int_eq(dup, 0);
    streamlog_channel_close(other);
    /* bad input */
    TU_RC(streamlog_append_once(NULL, "id", NULL, 0, "x", 1, NULL, NULL), STREAMLOG_EINVAL);
    TU_RC(streamlog_append_once(ch, NULL, NULL, 0, "x", 1, NULL, NULL), STREAMLOG_EINVAL);
    TU_RC(streamlog_append_once(ch, "", NULL, 0, "x", 1, NULL, NULL), STREAMLOG_EINVAL);
    char long_id[202];
    memset(long_id, 'i', 201);
    long_id[201] = '\0';
    TU_RC(streamlog_append_once(ch, long_id, NULL, 0, "x", 1, NULL, NULL), STREAMLOG_EINVAL);
    long_id[200] = '\0';
    TU_OK(streamlog_append_once(ch, long_id, NULL, 0, "x", 1, &seq, NULL)); /* 200 bytes is the most */
    TU_RC(streamlog_append_once(ch, "id", "bad", 3, "x", 1, NULL, NULL), STREAMLOG_EINVAL);
    /* remembered across a reopen */
    close_all();
    st = tu_open(NULL);
    ch = tu_chan(st, "c", NULL);
    TU_OK(streamlog_append_once(ch, "order-2", NULL, 0, "b", 1, &seq, &dup));
    ck_assert_uint_eq(seq, 3);
    ck_assert_int_eq(dup, 1);
    close_all();
    /* past the window the id is new again (a window of 1 ms, and more than that passes) */
    st = tu_open1(STREAMLOG_OPT_DEDUP_WINDOW_MS, 1);
    ch = tu_chan(st, "c", NULL);
    tu_sleep_ms(20);
    TU_OK(streamlog_append_once(ch, "order-2", NULL, 0, "b2", 2, &seq, &dup));
    ck_assert_int_eq(dup, 0);
    ck_assert_uint_eq(seq, 5);
    close_all();
}
END_TEST

/* Concurrent appends with one id: exactly one is stored, all learn its sequence. */
struct once_arg {
    streamlog_channel *ch;
    uint64_t seq;
    int dup, rc;
};

static void *once_thread(void *p)
{
    struct once_arg *a = p;
    a->rc = streamlog_append_once(a->ch, "the-one", NULL, 0, "x", 1, &a->seq, &a->dup);
    return NULL;
}

START_TEST(append_once_concurrent)
{
    open_default();
    enum { N = 8 };
    pthread_t th[N];
    struct once_arg a[N];
    for (int i = 0; i < N; i++) {
        a[i] = (struct once_arg){ ch, 0, -1, -1 };
        ck_assert_int_eq(pthread_create(&th[i], NULL, once_thread, &a[i]), 0);
    }
    int stored = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        TU_OK(a[i].rc);
        ck_assert_uint_eq(a[i].seq, 1);
        stored += a[i].dup == 0;
    }
    ck_assert_int_eq(stored, 1);
    expect_unchanged(1, 1, 1);
    close_all();
}
END_TEST

START_TEST(expect_after_pruning)
{
    /* The last sequence counts even when retention removed messages. */
    st = tu_open(NULL);
    ch = tu_chan1(st, "c", STREAMLOG_OPT_MAX_MSGS, 1);
    for (int i = 0; i < 5; i++)
        tu_append_str(ch, "m");
    uint64_t seq = 0;
    TU_RC(streamlog_append_expect(ch, "x", 1, 0, &seq), STREAMLOG_ECONFLICT);
    TU_RC(streamlog_append_expect(ch, "x", 1, 1, &seq), STREAMLOG_ECONFLICT);
    TU_OK(streamlog_append_expect(ch, "x", 1, 5, &seq));
    ck_assert_uint_eq(seq, 6);
    close_all();
}
END_TEST

START_TEST(timestamps)
{
    open_default();
    int64_t prev = 0;
    for (int i = 0; i < 100; i++) {
        int64_t before = tu_now_ns();
        uint64_t seq;
        if (i % 10 == 9) {
            const void *d[5] = { "a", "b", "c", "d", "e" };
            size_t l[5] = { 1, 1, 1, 1, 1 };
            TU_OK(streamlog_append_batch(ch, d, l, 5, &seq));
        } else {
            TU_OK(streamlog_append(ch, "t", 1, &seq));
        }
        int64_t after = tu_now_ns();
        uint64_t last = tu_stats(ch).last_seq;
        for (uint64_t s = seq; s <= last; s++) {
            streamlog_msg *m = NULL;
            TU_OK(streamlog_get(ch, s, &m));
            int64_t t = streamlog_msg_time(m);
            streamlog_msg_free(m);
            ck_assert_msg(t >= before && t <= after,
                          "seq %llu: time %lld not within the call [%lld, %lld]",
                          (unsigned long long)s, (long long)t, (long long)before,
                          (long long)after);
            ck_assert_msg(t >= prev, "seq %llu: time %lld < previous %lld",
                          (unsigned long long)s, (long long)t, (long long)prev);
            prev = t;
        }
    }
    close_all();
}
END_TEST

START_TEST(timestamps_survive_reopen)
{
    open_default();
    tu_append_str(ch, "a");
    streamlog_msg *m = NULL;
    TU_OK(streamlog_get(ch, 1, &m));
    int64_t t1 = streamlog_msg_time(m);
    streamlog_msg_free(m);
    close_all();
    st = tu_open(NULL);
    ch = tu_chan(st, "c", NULL);
    TU_OK(streamlog_get(ch, 1, &m));
    ck_assert_int_eq(streamlog_msg_time(m), t1);
    streamlog_msg_free(m);
    tu_append_str(ch, "b");
    TU_OK(streamlog_get(ch, 2, &m));
    ck_assert_int_ge(streamlog_msg_time(m), t1);
    streamlog_msg_free(m);
    close_all();
}
END_TEST

/* One message through streamlog_import. */
static int import1(streamlog_channel *ch, uint64_t seq, int64_t t, const void *hdrs, size_t hl, const void *data,
                   size_t len)
{
    return streamlog_import(ch, seq, &t, hl ? &hdrs : NULL, hl ? &hl : NULL, &data, &len, 1);
}

/* streamlog_import: messages keep the sequences and times they had elsewhere. */
START_TEST(import_keeps_seq_and_time)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan(st, "restored", NULL);
    int64_t t0 = tu_now_ns() - 3600LL * 1000000000; /* an hour ago */
    static const char hdrs[] = "NATS/1.0\r\nType: created\r\n\r\n";
    TU_OK(import1(ch, 5, t0, NULL, 0, "five", 4));
    TU_OK(import1(ch, 6, t0 + 10, hdrs, sizeof hdrs - 1, "six", 3));
    streamlog_channel_stats s = tu_stats(ch);
    ck_assert_uint_eq(s.first_seq, 5);
    ck_assert_uint_eq(s.last_seq, 6);
    ck_assert_uint_eq(s.msgs, 2);
    streamlog_msg *m;
    TU_OK(streamlog_get(ch, 6, &m));
    ck_assert_int_eq(streamlog_msg_time(m), t0 + 10);
    size_t hl;
    const void *h = streamlog_msg_headers(m, &hl);
    ck_assert_uint_eq(hl, sizeof hdrs - 1);
    ck_assert(memcmp(h, hdrs, hl) == 0);
    streamlog_msg_free(m);
    TU_RC(streamlog_get(ch, 4, &m), STREAMLOG_ENOTFOUND);

    /* a batch: one commit, each message its own time */
    int64_t times[3] = {t0 + 20, t0 + 20, t0 + 30};
    const void *data[3] = {"a", "b", "c"};
    size_t lens[3] = {1, 1, 1};
    TU_OK(streamlog_import(ch, 7, times, NULL, NULL, data, lens, 3));
    TU_OK(streamlog_get(ch, 9, &m));
    ck_assert_int_eq(streamlog_msg_time(m), t0 + 30);
    streamlog_msg_free(m);

    /* seeking by time finds imported times */
    streamlog_iter *it;
    const streamlog_msg *v;
    TU_OK(streamlog_iter_open(ch, STREAMLOG_START_TIME, t0 + 5, &it));
    TU_OK(streamlog_iter_next(it, &v));
    ck_assert_uint_eq(streamlog_msg_seq(v), 6);
    streamlog_iter_close(it);

    /* numbering stays contiguous, times never go back */
    TU_RC(import1(ch, 11, t0 + 40, NULL, 0, "x", 1), STREAMLOG_ECONFLICT);
    TU_RC(import1(ch, 9, t0 + 40, NULL, 0, "x", 1), STREAMLOG_ECONFLICT);
    TU_RC(import1(ch, 10, t0 + 29, NULL, 0, "x", 1), STREAMLOG_ECONFLICT);
    ck_assert_uint_eq(tu_stats(ch).last_seq, 9);

    /* bad input */
    int64_t back[2] = {t0 + 50, t0 + 40};
    TU_RC(streamlog_import(ch, 10, back, NULL, NULL, data, lens, 2), STREAMLOG_EINVAL);
    TU_RC(import1(NULL, 10, t0, NULL, 0, "x", 1), STREAMLOG_EINVAL);
    TU_RC(import1(ch, 0, t0, NULL, 0, "x", 1), STREAMLOG_EINVAL);
    TU_RC(import1(ch, UINT64_MAX, t0, NULL, 0, "x", 1), STREAMLOG_EINVAL);
    TU_RC(import1(ch, 10, -1, NULL, 0, "x", 1), STREAMLOG_EINVAL);
    TU_RC(import1(ch, 10, tu_now_ns() + 60LL * 1000000000, NULL, 0, "x", 1), STREAMLOG_EINVAL);
    TU_RC(import1(ch, 10, t0 + 40, "NATS/1.0", 8, "x", 1), STREAMLOG_EINVAL);
    TU_RC(import1(ch, 10, t0 + 40, NULL, 0, NULL, 1), STREAMLOG_EINVAL);
    TU_RC(streamlog_import(ch, 10, NULL, NULL, NULL, data, lens, 1), STREAMLOG_EINVAL);
    TU_RC(streamlog_import(ch, 10, times, NULL, NULL, data, lens, 0), STREAMLOG_EINVAL);
    ck_assert_uint_eq(tu_stats(ch).last_seq, 9);

    /* a plain append goes on after the imported ones, at the current time */
    int64_t before = tu_now_ns();
    ck_assert_uint_eq(tu_append_str(ch, "ten"), 10);
    TU_OK(streamlog_get(ch, 10, &m));
    ck_assert_int_ge(streamlog_msg_time(m), before);
    streamlog_msg_free(m);
    /* and an import must come after it in time too */
    TU_RC(import1(ch, 11, t0 + 40, NULL, 0, "x", 1), STREAMLOG_ECONFLICT);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* A channel's own dedup window: kept in the store, judged per channel. */
START_TEST(dedup_window_per_channel)
{
    streamlog_store *st = tu_open(NULL); /* store default: 2 minutes */
    streamlog_channel *brief = tu_chan1(st, "brief", STREAMLOG_OPT_DEDUP_WINDOW_MS, 1);
    streamlog_channel *usual = tu_chan(st, "usual", NULL);
    uint64_t seq, again;
    int dup;
    TU_OK(streamlog_append_once(brief, "id", NULL, 0, "a", 1, &seq, &dup));
    TU_OK(streamlog_append_once(usual, "id", NULL, 0, "a", 1, &seq, &dup));
    int64_t start = tu_mono_ms();
    while (tu_mono_ms() - start < 20) /* well past 1 ms, far inside 2 minutes */
        tu_sleep_ms(5);
    TU_OK(streamlog_append_once(brief, "id", NULL, 0, "b", 1, &again, &dup));
    ck_assert_int_eq(dup, 0);
    ck_assert_uint_eq(again, 2);
    TU_OK(streamlog_append_once(usual, "id", NULL, 0, "b", 1, &again, &dup));
    ck_assert_int_eq(dup, 1);
    ck_assert_uint_eq(again, 1);
    streamlog_channel_close(brief);
    streamlog_channel_close(usual);
    TU_OK(streamlog_close(st));

    /* the window is the channel's, after a reopen too, and can be changed */
    st = tu_open(NULL);
    brief = tu_chan(st, "brief", NULL);
    start = tu_mono_ms();
    while (tu_mono_ms() - start < 20)
        tu_sleep_ms(5);
    TU_OK(streamlog_append_once(brief, "id", NULL, 0, "c", 1, &again, &dup));
    ck_assert_int_eq(dup, 0);
    ck_assert_uint_eq(again, 3);
    streamlog_channel_close(brief);
    brief = tu_chan1(st, "brief", STREAMLOG_OPT_DEDUP_WINDOW_MS, 3600000);
    TU_OK(streamlog_append_once(brief, "id", NULL, 0, "d", 1, &again, &dup));
    ck_assert_int_eq(dup, 1);
    ck_assert_uint_eq(again, 3);

    /* bad values are refused, nothing changed */
    streamlog_opts *o;
    TU_OK(streamlog_opts_new(&o));
    TU_RC(streamlog_opts_set_int(o, STREAMLOG_OPT_DEDUP_WINDOW_MS, 0), STREAMLOG_EINVAL);
    streamlog_opts_free(o);
    streamlog_channel_close(brief);
    TU_OK(streamlog_close(st));
}
END_TEST

/* A command's events with their headers: all or none, none on a stale state. */
START_TEST(batch_msgs_expect_semantics)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan(st, "events", NULL);
    static const char h[] = "NATS/1.0\r\nType: Withdrawn\r\n\r\n";
    const void *hdrs[2] = {h, NULL}, *data[2] = {"a", "b"};
    size_t hlens[2] = {sizeof h - 1, 0}, lens[2] = {1, 1};
    uint64_t first = 0;
    TU_OK(streamlog_append_batch_msgs_expect(ch, hdrs, hlens, data, lens, 2, 0, &first));
    ck_assert_uint_eq(first, 1);
    TU_RC(streamlog_append_batch_msgs_expect(ch, hdrs, hlens, data, lens, 2, 0, &first), STREAMLOG_ECONFLICT);
    ck_assert_uint_eq(tu_stats(ch).last_seq, 2); /* nothing of the refused batch */
    TU_OK(streamlog_append_batch_msgs_expect(ch, NULL, NULL, data, lens, 1, 2, &first));
    ck_assert_uint_eq(first, 3);
    tu_expect_header_at(ch, 1, "Type", "Withdrawn");
    TU_RC(streamlog_append_batch_msgs_expect(NULL, hdrs, hlens, data, lens, 2, 3, NULL), STREAMLOG_EINVAL);
    TU_RC(streamlog_append_batch_msgs_expect(ch, hdrs, NULL, data, lens, 2, 3, NULL), STREAMLOG_EINVAL);
    TU_RC(streamlog_append_batch_msgs_expect(ch, hdrs, hlens, data, lens, 0, 3, NULL), STREAMLOG_EINVAL);
    hlens[0] = 3; /* not a header block */
    TU_RC(streamlog_append_batch_msgs_expect(ch, hdrs, hlens, data, lens, 2, 3, NULL), STREAMLOG_EINVAL);
    ck_assert_uint_eq(tu_stats(ch).last_seq, 3);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

static Suite *append_suite(void)
{
    Suite *s = suite_create("append");
    TCase *tc = tu_tcase("append", 0);
    tcase_add_test(tc, sequences_start_at_one_and_are_contiguous);
    tcase_add_test(tc, any_bytes_round_trip);
    tcase_add_test(tc, zero_length_payloads);
    tcase_add_test(tc, append_bad_input);
    tcase_add_test(tc, timestamps);
    tcase_add_test(tc, timestamps_survive_reopen);
    suite_add_tcase(s, tc);

    tc = tu_tcase("limits", 0);
    tcase_add_test(tc, max_payload_limit);
    tcase_add_test(tc, default_max_payload_is_1mib);
    tcase_add_test(tc, unlimited_payload_up_to_hard_max);
    tcase_add_test(tc, huge_lengths_rejected);
    suite_add_tcase(s, tc);

    tc = tu_tcase("batch", 0);
    tcase_add_test(tc, batch_bad_input);
    tcase_add_test(tc, batch_contiguous);
    tcase_add_test(tc, batch_with_one_oversize_stores_nothing);
    suite_add_tcase(s, tc);

    tc = tu_tcase("expect", 0);
    tcase_add_test(tc, expect_semantics);
    tcase_add_test(tc, expect_after_pruning);
    tcase_add_test(tc, batch_expect_semantics);
    tcase_add_test(tc, headers_round_trip);
    tcase_add_test(tc, headers_bad_input);
    tcase_add_test(tc, append_once_semantics);
    tcase_add_test(tc, dedup_window_per_channel);
    tcase_add_test(tc, batch_msgs_expect_semantics);
    tcase_add_test(tc, append_once_concurrent);
    tcase_add_test(tc, import_keeps_seq_and_time);
    suite_add_tcase(s, tc);
    return s;
}


int main(void)
{
    return tu_run(append_suite());
}
