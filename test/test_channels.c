/*
 * test_channels.c - channel names, creation, the CREATE flag, MAX_CHANNELS,
 * deletion, statistics and limit updates.
 */
#define _GNU_SOURCE
#include "test_util.h"

#include <string.h>

static char name255[256], name255b[256], name256[257];

static void make_long_names(void)
{
    memset(name255, 'a', 255);
    name255[255] = '\0';
    memcpy(name255b, name255, 256);
    name255b[254] = 'b';
    memset(name256, 'a', 256);
    name256[256] = '\0';
}

static const char *valid_names[] = {
    "orders", "a.b.c", "x", "A", "orders-2024_v1", "$SYS.stats", "a.b.c.d.e.f.g.h",
    "z\xc3\xbcrich.\xe6\x97\xa5\xe6\x9c\xac", /* zürich.日本 */
    "emoji.\xf0\x9f\x98\x80",                 /* U+1F600 */
    "123", "a-b", "a_b", "a:b", "a#b",
};
#define NVALID (sizeof valid_names / sizeof valid_names[0])

static const char *invalid_names[] = {
    "", ".", "..", ".a", "a.", "a..b", "a.*", "a.>", "*", ">", "a*b", "a>b", "*.a",
    "a/b", "/a", "a b", " a", "a ", "a\tb", "a\nb", "a\rb", "\x01", "a\x1f", "a\x7f",
    "\xff", "a\xc3", "\xc3\x28", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
    "\xf4\x90\x80\x80", "\x80", "a.\xfe.b",
};
#define NINVALID (sizeof invalid_names / sizeof invalid_names[0])

static void show(char *out, size_t n, const char *s)
{
    size_t o = 0;
    for (; *s && o + 5 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c >= 0x7f)
            o += (size_t)snprintf(out + o, n - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    out[o] = '\0';
}

START_TEST(valid_names_accepted)
{
    make_long_names();
    streamlog_store *st = tu_open(NULL);
    for (size_t i = 0; i < NVALID + 2; i++) {
        const char *n = i < NVALID ? valid_names[i] : i == NVALID ? name255 : name255b;
        streamlog_channel *ch = NULL;
        int rc = streamlog_channel_open(st, n, STREAMLOG_CREATE, NULL, &ch);
        char shown[600];
        show(shown, sizeof shown, n);
        ck_assert_msg(rc == STREAMLOG_OK, "valid name \"%s\" refused: %s [%s]", shown,
                      tu_name(rc), tu_errmsg_safe());
        const char *got = NULL;
        TU_OK(streamlog_channel_name(ch, &got));
        ck_assert_ptr_nonnull(got);
        ck_assert_str_eq(got, n);
        /* each is its own channel: i + 1 messages */
        for (size_t k = 0; k <= i; k++)
            tu_append_str(ch, n);
        streamlog_channel_close(ch);
    }
    TU_OK(streamlog_close(st));

    /* They persist, each under exactly its name. */
    st = tu_open(NULL);
    for (size_t i = 0; i < NVALID + 2; i++) {
        const char *n = i < NVALID ? valid_names[i] : i == NVALID ? name255 : name255b;
        streamlog_channel *ch = NULL;
        TU_OK(streamlog_channel_open(st, n, 0, NULL, &ch));
        streamlog_channel_stats s = tu_stats(ch);
        ck_assert_uint_eq(s.msgs, i + 1);
        tu_expect_msg(ch, 1, n, strlen(n));
        streamlog_channel_close(ch);
    }
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(invalid_names_rejected)
{
    make_long_names();
    /* MAX_CHANNELS 1: if any invalid attempt created a channel, the valid
     * creation at the end would fail with ELIMIT. */
    streamlog_store *st = tu_open1(STREAMLOG_OPT_MAX_CHANNELS, 1);
    for (size_t i = 0; i < NINVALID + 1; i++) {
        const char *n = i < NINVALID ? invalid_names[i] : name256;
        streamlog_channel *ch = (streamlog_channel *)&st; /* sentinel */
        char shown[600];
        show(shown, sizeof shown, n);
        int rc = streamlog_channel_open(st, n, STREAMLOG_CREATE, NULL, &ch);
        ck_assert_msg(rc == STREAMLOG_EINVAL, "invalid name \"%s\" (%zu bytes): got %s",
                      shown, strlen(n), tu_name(rc));
        ck_assert_msg(ch == (streamlog_channel *)&st, "output written for \"%s\"", shown);
        rc = streamlog_channel_open(st, n, 0, NULL, &ch);
        ck_assert_msg(rc == STREAMLOG_EINVAL, "invalid name \"%s\" without CREATE: got %s",
                      shown, tu_name(rc));
        rc = streamlog_channel_delete(st, n);
        ck_assert_msg(rc == STREAMLOG_EINVAL, "delete of invalid name \"%s\": got %s", shown,
                      tu_name(rc));
    }
    TU_RC(streamlog_channel_open(st, NULL, STREAMLOG_CREATE, NULL,
                                 &(streamlog_channel *){ NULL }),
          STREAMLOG_EINVAL);
    streamlog_channel *ch = tu_chan(st, "ok", NULL);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(names_are_distinct)
{
    /* Case, prefixes and token boundaries make different channels. */
    static const char *names[] = { "a", "A", "a.b", "ab", "a.bc", "a.b.c", "b" };
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch[7];
    for (int i = 0; i < 7; i++) {
        ch[i] = tu_chan(st, names[i], NULL);
        for (int k = 0; k <= i; k++)
            ck_assert_uint_eq(tu_append_str(ch[i], names[i]), (uint64_t)k + 1);
    }
    for (int i = 0; i < 7; i++) {
        streamlog_channel_stats s = tu_stats(ch[i]);
        ck_assert_uint_eq(s.msgs, (uint64_t)i + 1);
        ck_assert_uint_eq(s.last_seq, (uint64_t)i + 1);
        tu_expect_msg(ch[i], (uint64_t)i + 1, names[i], strlen(names[i]));
    }
    /* Deleting "a" leaves "a.b", "ab" and the rest intact. */
    TU_OK(streamlog_channel_delete(st, "a"));
    for (int i = 1; i < 7; i++) {
        streamlog_channel_stats s = tu_stats(ch[i]);
        ck_assert_uint_eq(s.msgs, (uint64_t)i + 1);
        for (int k = 1; k <= i + 1; k++)
            tu_expect_msg(ch[i], (uint64_t)k, names[i], strlen(names[i]));
    }
    for (int i = 0; i < 7; i++)
        streamlog_channel_close(ch[i]);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(create_flag)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = (streamlog_channel *)&st;
    TU_RC(streamlog_channel_open(st, "orders", 0, NULL, &ch), STREAMLOG_ENOTFOUND);
    ck_assert_ptr_eq(ch, (streamlog_channel *)&st);
    /* Still missing after the failed open. */
    TU_RC(streamlog_channel_open(st, "orders", 0, NULL, &ch), STREAMLOG_ENOTFOUND);

    ch = NULL;
    TU_OK(streamlog_channel_open(st, "orders", STREAMLOG_CREATE, NULL, &ch));
    ck_assert_ptr_nonnull(ch);
    tu_append_str(ch, "one");

    /* CREATE on an existing channel opens it (no EEXIST, nothing reset). */
    streamlog_channel *ch2 = NULL;
    TU_OK(streamlog_channel_open(st, "orders", STREAMLOG_CREATE, NULL, &ch2));
    ck_assert_uint_eq(tu_stats(ch2).msgs, 1);
    ck_assert_uint_eq(tu_append_str(ch2, "two"), 2);
    /* Both handles see the same channel. */
    tu_expect_msg(ch, 2, "two", 3);
    streamlog_channel *ch3 = NULL;
    TU_OK(streamlog_channel_open(st, "orders", 0, NULL, &ch3));
    ck_assert_uint_eq(tu_stats(ch3).last_seq, 2);
    streamlog_channel_close(ch);
    streamlog_channel_close(ch2);
    streamlog_channel_close(ch3);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(unknown_flags)
{
    static const uint32_t flags[] = { 0x2u, 0x4u, 0x80000000u, STREAMLOG_CREATE | 0x2u,
                                      STREAMLOG_CREATE | 0x100u, 0xffffffffu };
    streamlog_store *st = tu_open(NULL);
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        streamlog_channel *ch = (streamlog_channel *)&st;
        int rc = streamlog_channel_open(st, "c", flags[i], NULL, &ch);
        ck_assert_msg(rc == STREAMLOG_EINVAL, "flags 0x%x: got %s", flags[i], tu_name(rc));
        ck_assert_ptr_eq(ch, (streamlog_channel *)&st);
        TU_RC(streamlog_channel_open(st, "c", 0, NULL, &ch), STREAMLOG_ENOTFOUND);
    }
    /* Also on an existing channel. */
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    streamlog_channel *ch2 = NULL;
    TU_RC(streamlog_channel_open(st, "c", 0x2u, NULL, &ch2), STREAMLOG_EINVAL);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(max_channels)
{
    streamlog_store *st = tu_open1(STREAMLOG_OPT_MAX_CHANNELS, 2);
    streamlog_channel *a = tu_chan(st, "a", NULL);
    streamlog_channel *b = tu_chan(st, "b", NULL);
    streamlog_channel *c = (streamlog_channel *)&st;
    TU_RC(streamlog_channel_open(st, "c", STREAMLOG_CREATE, NULL, &c), STREAMLOG_ELIMIT);
    ck_assert_ptr_eq(c, (streamlog_channel *)&st);
    TU_RC(streamlog_channel_open(st, "c", 0, NULL, &c), STREAMLOG_ENOTFOUND);
    /* Existing channels still open, with or without CREATE. */
    streamlog_channel *a2 = NULL;
    TU_OK(streamlog_channel_open(st, "a", STREAMLOG_CREATE, NULL, &a2));
    streamlog_channel_close(a2);
    TU_OK(streamlog_channel_open(st, "b", 0, NULL, &a2));
    streamlog_channel_close(a2);
    /* Deleting one makes room. */
    streamlog_channel_close(b);
    TU_OK(streamlog_channel_delete(st, "b"));
    c = tu_chan(st, "c", NULL);
    TU_RC(streamlog_channel_open(st, "d", STREAMLOG_CREATE, NULL, &b), STREAMLOG_ELIMIT);
    streamlog_channel_close(a);
    streamlog_channel_close(c);
    TU_OK(streamlog_close(st));

    /* The count survives a reopen (MAX_CHANNELS given again). */
    st = tu_open1(STREAMLOG_OPT_MAX_CHANNELS, 2);
    b = NULL;
    TU_RC(streamlog_channel_open(st, "d", STREAMLOG_CREATE, NULL, &b), STREAMLOG_ELIMIT);
    TU_OK(streamlog_close(st));
    /* Without the limit, there is room. */
    st = tu_open(NULL);
    b = tu_chan(st, "d", NULL);
    streamlog_channel_close(b);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(delete_then_recreate)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan1(st, "c", STREAMLOG_OPT_MAX_MSGS, 2);
    for (int i = 0; i < 5; i++)
        tu_append_str(ch, "old");
    streamlog_channel_close(ch);
    TU_OK(streamlog_channel_delete(st, "c"));
    ch = (streamlog_channel *)&st;
    TU_RC(streamlog_channel_open(st, "c", 0, NULL, &ch), STREAMLOG_ENOTFOUND);
    ch = tu_chan(st, "c", NULL);
    streamlog_channel_stats s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, 0);
    ck_assert_uint_eq(s.bytes, 0);
    ck_assert_uint_eq(s.first_seq, 1);
    ck_assert_uint_eq(s.last_seq, 0);
    ck_assert_uint_eq(tu_append_str(ch, "new"), 1);
    /* The old limits are gone too (max_msgs 2 no longer applies). */
    tu_append_str(ch, "new2");
    tu_append_str(ch, "new3");
    s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, 3);
    tu_expect_msg(ch, 1, "new", 3);
    /* append_expect sees a fresh channel. */
    streamlog_channel_close(ch);
    TU_OK(streamlog_channel_delete(st, "c"));
    ch = tu_chan(st, "c", NULL);
    uint64_t seq = 0;
    TU_OK(streamlog_append_expect(ch, "e", 1, 0, &seq));
    ck_assert_uint_eq(seq, 1);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));

    /* Deletion persists. */
    st = tu_open(NULL);
    ch = NULL;
    TU_OK(streamlog_channel_open(st, "c", 0, NULL, &ch));
    ck_assert_uint_eq(tu_stats(ch).msgs, 1);
    streamlog_channel_close(ch);
    TU_OK(streamlog_channel_delete(st, "c"));
    TU_OK(streamlog_close(st));
    st = tu_open(NULL);
    TU_RC(streamlog_channel_open(st, "c", 0, NULL, &ch), STREAMLOG_ENOTFOUND);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(delete_missing_and_bad)
{
    streamlog_store *st = tu_open(NULL);
    TU_RC(streamlog_channel_delete(st, "nope"), STREAMLOG_ENOTFOUND);
    TU_RC(streamlog_channel_delete(st, NULL), STREAMLOG_EINVAL);
    TU_RC(streamlog_channel_delete(NULL, "nope"), STREAMLOG_EINVAL);
    TU_RC(streamlog_channel_delete(st, "a..b"), STREAMLOG_EINVAL);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    streamlog_channel_close(ch);
    TU_OK(streamlog_channel_delete(st, "c"));
    TU_RC(streamlog_channel_delete(st, "c"), STREAMLOG_ENOTFOUND);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(deleted_handle_is_closed)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    tu_append_str(ch, "a");
    tu_append_str(ch, "b");

    TU_OK(streamlog_channel_delete(st, "c"));

    uint64_t seq = 777;
    TU_RC(streamlog_append(ch, "x", 1, &seq), STREAMLOG_ECLOSED);
    ck_assert_uint_eq(seq, 777);
    TU_RC(streamlog_append_expect(ch, "x", 1, 2, &seq), STREAMLOG_ECLOSED);
    const void *d[1] = { "x" };
    size_t l[1] = { 1 };
    TU_RC(streamlog_append_batch(ch, d, l, 1, &seq), STREAMLOG_ECLOSED);
    streamlog_msg *m = NULL;
    TU_RC(streamlog_get(ch, 1, &m), STREAMLOG_ECLOSED);
    streamlog_channel_stats s;
    TU_RC(streamlog_channel_get_stats(ch, &s), STREAMLOG_ECLOSED);
    streamlog_iter *it2 = NULL;
    TU_RC(streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &it2), STREAMLOG_ECLOSED);

    /* A new channel under the same name is not reachable through the old
     * handle, and the old handle does not write into it. */
    streamlog_channel *nch = tu_chan(st, "c", NULL);
    ck_assert_uint_eq(tu_append_str(nch, "new"), 1);
    TU_RC(streamlog_append(ch, "x", 1, &seq), STREAMLOG_ECLOSED);
    TU_RC(streamlog_get(ch, 1, &m), STREAMLOG_ECLOSED);
    TU_RC(streamlog_channel_get_stats(ch, &s), STREAMLOG_ECLOSED);
    s = tu_stats(nch);
    ck_assert_uint_eq(s.msgs, 1);
    ck_assert_uint_eq(s.last_seq, 1);
    tu_expect_msg(nch, 1, "new", 3);

    /* The name stays readable for the handle's life. */
    const char *name = NULL;
    TU_OK(streamlog_channel_name(ch, &name));
    ck_assert_str_eq(name, "c");

    streamlog_channel_close(ch);
    streamlog_channel_close(nch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* An iterator that has caught up (no view live) sees the deletion. */
START_TEST(deleted_channel_idle_iterator_is_closed)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    tu_append_str(ch, "a");
    streamlog_iter *it = NULL;
    TU_OK(streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &it));
    const streamlog_msg *view = NULL;
    TU_OK(streamlog_iter_next(it, &view));
    TU_RC(streamlog_iter_next(it, &view), STREAMLOG_EAGAIN);
    streamlog_iter *fresh = NULL; /* opened, never read */
    TU_OK(streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &fresh));

    TU_OK(streamlog_channel_delete(st, "c"));
    TU_RC(streamlog_iter_next(it, &view), STREAMLOG_ECLOSED);
    TU_RC(streamlog_iter_next(fresh, &view), STREAMLOG_ECLOSED);
    /* Also once a new channel of that name has messages. */
    streamlog_channel *nch = tu_chan(st, "c", NULL);
    tu_append_str(nch, "new");
    TU_RC(streamlog_iter_next(it, &view), STREAMLOG_ECLOSED);
    TU_RC(streamlog_iter_next(fresh, &view), STREAMLOG_ECLOSED);
    streamlog_iter_close(it);
    streamlog_iter_close(fresh);
    streamlog_channel_close(ch);
    streamlog_channel_close(nch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* An iterator whose last returned view is still live when the channel is
 * deleted: its next call fails with ECLOSED rather than returning messages
 * of the deleted channel. */
START_TEST(deleted_channel_reading_iterator_is_closed)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    tu_append_str(ch, "a");
    tu_append_str(ch, "b");
    streamlog_iter *it = NULL;
    TU_OK(streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &it));
    const streamlog_msg *view = NULL;
    TU_OK(streamlog_iter_next(it, &view));
    ck_assert_uint_eq(streamlog_msg_seq(view), 1);

    TU_OK(streamlog_channel_delete(st, "c"));
    int rc = streamlog_iter_next(it, &view);
    ck_assert_msg(rc == STREAMLOG_ECLOSED,
                  "iter_next after channel_delete returned %s%s%llu (expected ECLOSED)",
                  tu_name(rc), rc == 0 ? ", message " : "",
                  rc == 0 ? (unsigned long long)streamlog_msg_seq(view) : 0ULL);
    streamlog_iter_close(it);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(stats_empty_and_after_appends)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    streamlog_channel_stats s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, 0);
    ck_assert_uint_eq(s.bytes, 0);
    ck_assert_uint_eq(s.subs, 0);
    ck_assert_uint_eq(s.first_seq, s.last_seq + 1);
    ck_assert_uint_eq(s.first_seq, 1);

    tu_append(ch, "abc", 3);
    tu_append(ch, "hello", 5);
    tu_append(ch, NULL, 0);
    s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, 3);
    ck_assert_uint_eq(s.bytes, 8);
    ck_assert_uint_eq(s.first_seq, 1);
    ck_assert_uint_eq(s.last_seq, 3);
    ck_assert_uint_eq(s.subs, 0);

    /* Lowering max_msgs to 1 through a second handle: one message left,
     * first == last, and bytes counts only what remains. */
    streamlog_channel *ch2 = NULL;
    streamlog_opts *o = tu_opts1(STREAMLOG_OPT_MAX_MSGS, 1);
    TU_OK(streamlog_channel_open(st, "c", 0, o, &ch2));
    streamlog_opts_free(o);
    s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, 1);
    ck_assert_uint_eq(s.bytes, 0);
    ck_assert_uint_eq(s.first_seq, 3);
    ck_assert_uint_eq(s.last_seq, 3);
    streamlog_channel_close(ch2);

    TU_RC(streamlog_channel_get_stats(ch, NULL), STREAMLOG_EINVAL);
    TU_RC(streamlog_channel_get_stats(NULL, &s), STREAMLOG_EINVAL);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(limits_updated_on_existing_channel)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan1(st, "c", STREAMLOG_OPT_MAX_MSGS, 10);
    for (int i = 0; i < 10; i++)
        tu_append_str(ch, "0123456789");
    ck_assert_uint_eq(tu_stats(ch).msgs, 10);

    /* Lowering max_msgs prunes before the call returns. */
    streamlog_channel *h = tu_chan1(st, "c", STREAMLOG_OPT_MAX_MSGS, 4);
    streamlog_channel_stats s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, 4);
    ck_assert_uint_eq(s.first_seq, 7);
    ck_assert_uint_eq(s.last_seq, 10);
    ck_assert_uint_eq(s.bytes, 40);
    streamlog_channel_close(h);

    /* Setting only max_bytes keeps max_msgs 4. */
    h = tu_chan1(st, "c", STREAMLOG_OPT_MAX_BYTES, 1000000);
    streamlog_channel_close(h);
    for (int i = 0; i < 6; i++)
        tu_append_str(ch, "0123456789");
    s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, 4);
    ck_assert_uint_eq(s.last_seq, 16);

    /* Lowering max_bytes prunes, keeping max_msgs. */
    h = tu_chan1(st, "c", STREAMLOG_OPT_MAX_BYTES, 25);
    streamlog_channel_close(h);
    s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, 2);
    ck_assert_uint_eq(s.bytes, 20);
    ck_assert_uint_eq(s.first_seq, 15);

    /* Raising max_msgs to 0 (unlimited): nothing comes back, more kept. */
    h = tu_chan1(st, "c", STREAMLOG_OPT_MAX_MSGS, 0);
    streamlog_channel_close(h);
    h = tu_chan1(st, "c", STREAMLOG_OPT_MAX_BYTES, 0);
    streamlog_channel_close(h);
    s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, 2);
    for (int i = 0; i < 20; i++)
        tu_append_str(ch, "0123456789");
    s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, 22);
    ck_assert_uint_eq(s.first_seq, 15);
    ck_assert_uint_eq(s.last_seq, 36);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));

    /* The updated limits persist. */
    st = tu_open(NULL);
    h = tu_chan1(st, "c", STREAMLOG_OPT_MAX_MSGS, 5);
    streamlog_channel_close(h);
    TU_OK(streamlog_close(st));
    st = tu_open(NULL);
    ch = tu_chan(st, "c", NULL);
    for (int i = 0; i < 3; i++)
        tu_append_str(ch, "x");
    ck_assert_uint_eq(tu_stats(ch).msgs, 5);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(many_channels)
{
    enum { N = 500 };
    streamlog_store *st = tu_open1(STREAMLOG_OPT_SYNC, STREAMLOG_SYNC_NONE);
    char name[64];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "tenant.%d.events", i);
        streamlog_channel *ch = tu_chan(st, name, NULL);
        for (int k = 0; k < i % 4 + 1; k++)
            ck_assert_uint_eq(tu_append_str(ch, name), (uint64_t)k + 1);
        streamlog_channel_close(ch);
    }
    TU_OK(streamlog_close(st));
    st = tu_open(NULL);
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "tenant.%d.events", i);
        streamlog_channel *ch = NULL;
        TU_OK(streamlog_channel_open(st, name, 0, NULL, &ch));
        streamlog_channel_stats s = tu_stats(ch);
        ck_assert_uint_eq(s.msgs, (uint64_t)(i % 4 + 1));
        tu_expect_msg(ch, s.last_seq, name, strlen(name));
        streamlog_channel_close(ch);
    }
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(delete_large_channel)
{
    enum { N = 100000, B = 1000 };
    streamlog_store *st = tu_open1(STREAMLOG_OPT_SYNC, STREAMLOG_SYNC_NONE);
    streamlog_channel *ch = tu_chan(st, "big", NULL);
    streamlog_channel *other = tu_chan(st, "other", NULL);
    tu_append_str(other, "keep me");
    static unsigned char payload[100];
    const void *data[B];
    size_t lens[B];
    for (int i = 0; i < B; i++) {
        data[i] = payload;
        lens[i] = sizeof payload;
    }
    for (int i = 0; i < N / B; i++)
        TU_OK(streamlog_append_batch(ch, data, lens, B, NULL));
    ck_assert_uint_eq(tu_stats(ch).msgs, N);
    streamlog_channel_close(ch);
    TU_OK(streamlog_channel_delete(st, "big"));
    TU_RC(streamlog_channel_open(st, "big", 0, NULL, &ch), STREAMLOG_ENOTFOUND);
    ch = tu_chan(st, "big", NULL);
    ck_assert_uint_eq(tu_stats(ch).msgs, 0);
    ck_assert_uint_eq(tu_append_str(ch, "fresh"), 1);
    tu_expect_msg(other, 1, "keep me", 7);
    streamlog_channel_close(ch);
    streamlog_channel_close(other);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(channel_name_accessor)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan(st, "orders.eu.paris", NULL);
    const char *n = NULL;
    TU_OK(streamlog_channel_name(ch, &n));
    ck_assert_str_eq(n, "orders.eu.paris");
    TU_RC(streamlog_channel_name(ch, NULL), STREAMLOG_EINVAL);
    const char *sentinel = "s";
    n = sentinel;
    TU_RC(streamlog_channel_name(NULL, &n), STREAMLOG_EINVAL);
    ck_assert_ptr_eq(n, sentinel);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(channel_close_null)
{
    streamlog_channel_close(NULL);
}
END_TEST

START_TEST(list_channels_in_name_order)
{
    streamlog_store *st = tu_open(NULL);
    char buf[256];
    TU_RC(streamlog_channel_list_next(st, NULL, buf, sizeof buf), STREAMLOG_ENOTFOUND);
    const char *names[] = {"b.two", "a.one", "c", "b"};
    for (int i = 0; i < 4; i++)
        streamlog_channel_close(tu_chan(st, names[i], NULL));
    const char *expect[] = {"a.one", "b", "b.two", "c"};
    const char *after = NULL;
    char prev[256];
    for (int i = 0; i < 4; i++) {
        TU_OK(streamlog_channel_list_next(st, after, buf, sizeof buf));
        ck_assert_str_eq(buf, expect[i]);
        strcpy(prev, buf);
        after = prev;
    }
    TU_RC(streamlog_channel_list_next(st, after, buf, sizeof buf), STREAMLOG_ENOTFOUND);
    /* a name that is not a channel still positions the walk */
    TU_OK(streamlog_channel_list_next(st, "b.", buf, sizeof buf));
    ck_assert_str_eq(buf, "b.two");
    /* deleted channels are not listed */
    TU_OK(streamlog_channel_delete(st, "b"));
    TU_OK(streamlog_channel_list_next(st, "a.one", buf, sizeof buf));
    ck_assert_str_eq(buf, "b.two");
    /* bad input */
    TU_RC(streamlog_channel_list_next(NULL, NULL, buf, sizeof buf), STREAMLOG_EINVAL);
    TU_RC(streamlog_channel_list_next(st, NULL, NULL, sizeof buf), STREAMLOG_EINVAL);
    TU_RC(streamlog_channel_list_next(st, NULL, buf, 255), STREAMLOG_EINVAL);
    TU_OK(streamlog_close(st));
}
END_TEST

static Suite *channels_suite(void)
{
    Suite *s = suite_create("channels");
    TCase *tc = tu_tcase("names", 0);
    tcase_add_test(tc, valid_names_accepted);
    tcase_add_test(tc, invalid_names_rejected);
    tcase_add_test(tc, names_are_distinct);
    tcase_add_test(tc, channel_name_accessor);
    suite_add_tcase(s, tc);

    tc = tu_tcase("open", 0);
    tcase_add_test(tc, create_flag);
    tcase_add_test(tc, unknown_flags);
    tcase_add_test(tc, max_channels);
    tcase_add_test(tc, channel_close_null);
    tcase_add_test(tc, many_channels);
    suite_add_tcase(s, tc);

    tc = tu_tcase("delete", 0);
    tcase_add_test(tc, delete_then_recreate);
    tcase_add_test(tc, delete_missing_and_bad);
    tcase_add_test(tc, deleted_handle_is_closed);
    tcase_add_test(tc, deleted_channel_idle_iterator_is_closed);
    tcase_add_test(tc, deleted_channel_reading_iterator_is_closed);
    tcase_add_test(tc, delete_large_channel);
    suite_add_tcase(s, tc);

    tc = tu_tcase("stats", 0);
    tcase_add_test(tc, stats_empty_and_after_appends);
    tcase_add_test(tc, limits_updated_on_existing_channel);
    tcase_add_test(tc, list_channels_in_name_order);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(channels_suite());
}
