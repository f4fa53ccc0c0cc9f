/*
 * test_stats_v2.c - the growable statistics (streamlog_*_get_stats_v2): the
 * figures match the frozen functions'; a caller's smaller struct gets exactly
 * its prefix; a larger one gets the library's fields, zeros after them and
 * size set to the library's size; sizes out of range are EINVAL with nothing
 * written.
 */
#include "test_util.h"

#include <stddef.h>
#include <string.h>

#define SLACK 32

/* Fill a struct's buffer with 0xA5 and set its size word. */
static void prepare(unsigned char *buf, size_t buflen, uint32_t size)
{
    memset(buf, 0xA5, buflen);
    memcpy(buf, &size, sizeof size);
}

static uint32_t size_of(const unsigned char *buf)
{
    uint32_t size;
    memcpy(&size, buf, sizeof size);
    return size;
}

static int all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return 0;
    return 1;
}

/* A channel with 3 messages (6 bytes) and one durable "d" that took all 3 and acked 2. */
struct fixture {
    streamlog_store *st;
    streamlog_channel *ch;
    streamlog_sub *sub;
};

static void setup_fixture(struct fixture *f)
{
    f->st = tu_open(NULL);
    f->ch = tu_chan(f->st, "stats", NULL);
    tu_append_str(f->ch, "a");
    tu_append_str(f->ch, "bb");
    tu_append_str(f->ch, "ccc");
    streamlog_opts *o = tu_opts2(STREAMLOG_OPT_START, STREAMLOG_START_FIRST, STREAMLOG_OPT_MAX_INFLIGHT, 7);
    TU_OK(streamlog_opts_set_str(o, STREAMLOG_OPT_DURABLE, "d"));
    TU_OK(streamlog_subscribe(f->ch, o, &f->sub));
    streamlog_opts_free(o);
    const streamlog_msg *m;
    for (uint64_t seq = 1; seq <= 3; seq++) {
        TU_OK(streamlog_sub_next(f->sub, 10000, &m));
        ck_assert_uint_eq(streamlog_msg_seq(m), seq);
        if (seq < 3)
            TU_OK(streamlog_ack(f->sub, seq));
    }
}

static void teardown_fixture(struct fixture *f)
{
    if (f->sub)
        TU_OK(streamlog_sub_close(f->sub));
    streamlog_channel_close(f->ch);
    TU_OK(streamlog_close(f->st));
}

START_TEST(full_size_matches_frozen_functions)
{
    struct fixture f;
    setup_fixture(&f);
    streamlog_channel_stats old;
    streamlog_channel_stats_v2 cs = {.size = sizeof cs};
    TU_OK(streamlog_channel_get_stats(f.ch, &old));
    TU_OK(streamlog_channel_get_stats_v2(f.ch, &cs));
    ck_assert_uint_eq(cs.size, sizeof cs);
    ck_assert_uint_eq(cs.first_seq, 1);
    ck_assert_uint_eq(cs.last_seq, 3);
    ck_assert_uint_eq(cs.msgs, 3);
    ck_assert_uint_eq(cs.bytes, 6);
    ck_assert_uint_eq(cs.subs, 1);
    ck_assert(old.first_seq == cs.first_seq && old.last_seq == cs.last_seq && old.msgs == cs.msgs &&
              old.bytes == cs.bytes && old.subs == cs.subs);

    streamlog_sub_stats sold;
    streamlog_sub_stats_v2 ss = {.size = sizeof ss};
    TU_OK(streamlog_sub_get_stats(f.sub, &sold));
    TU_OK(streamlog_sub_get_stats_v2(f.sub, &ss));
    ck_assert_uint_eq(ss.size, sizeof ss);
    ck_assert_uint_eq(ss.pending, 1);
    ck_assert_uint_eq(ss.last_delivered, 3);
    ck_assert_uint_eq(ss.next_seq, 4);
    ck_assert_uint_eq(ss.delivered, 3);
    ck_assert_uint_eq(ss.acked, 2);
    ck_assert_uint_eq(ss.max_inflight, 7);
    ck_assert(sold.pending == ss.pending && sold.last_delivered == ss.last_delivered &&
              sold.next_seq == ss.next_seq && sold.delivered == ss.delivered && sold.redelivered == ss.redelivered &&
              sold.acked == ss.acked && sold.dead_lettered == ss.dead_lettered && sold.stalled == ss.stalled &&
              sold.max_inflight == ss.max_inflight);

    TU_OK(streamlog_ack(f.sub, 3));
    TU_OK(streamlog_sub_close(f.sub));
    f.sub = NULL;
    streamlog_group_stats gold;
    streamlog_group_stats_v2 gs = {.size = sizeof gs};
    TU_OK(streamlog_group_get_stats(f.ch, STREAMLOG_GROUP_DURABLE, "d", &gold));
    TU_OK(streamlog_group_get_stats_v2(f.ch, STREAMLOG_GROUP_DURABLE, "d", &gs));
    ck_assert_uint_eq(gs.size, sizeof gs);
    ck_assert_uint_eq(gs.kind, STREAMLOG_GROUP_DURABLE);
    ck_assert_uint_eq(gs.next_seq, 4);
    ck_assert_uint_eq(gs.lag, 0);
    ck_assert_uint_eq(gs.pending, 0);
    ck_assert_uint_eq(gs.members, 0);
    ck_assert(gold.next_seq == gs.next_seq && gold.lag == gs.lag && gold.pending == gs.pending &&
              gold.redelivered == gs.redelivered && gold.members == gs.members && gold.kind == gs.kind);
    teardown_fixture(&f);
}
END_TEST

/* An older caller's struct: exactly its first `size` bytes are written. */
START_TEST(smaller_size_gets_its_prefix_only)
{
    struct fixture f;
    setup_fixture(&f);
    unsigned char buf[sizeof(streamlog_channel_stats_v2) + SLACK];
    uint32_t size = offsetof(streamlog_channel_stats_v2, msgs); /* size, reserved, first_seq, last_seq */
    prepare(buf, sizeof buf, size);
    TU_OK(streamlog_channel_get_stats_v2(f.ch, (streamlog_channel_stats_v2 *)(void *)buf));
    ck_assert_uint_eq(size_of(buf), size);
    uint64_t v;
    memcpy(&v, buf + offsetof(streamlog_channel_stats_v2, first_seq), 8);
    ck_assert_uint_eq(v, 1);
    memcpy(&v, buf + offsetof(streamlog_channel_stats_v2, last_seq), 8);
    ck_assert_uint_eq(v, 3);
    ck_assert_msg(all_bytes(buf + size, sizeof buf - size, 0xA5), "bytes past the caller's size were written");

    unsigned char sbuf[sizeof(streamlog_sub_stats_v2) + SLACK];
    size = offsetof(streamlog_sub_stats_v2, delivered);
    prepare(sbuf, sizeof sbuf, size);
    TU_OK(streamlog_sub_get_stats_v2(f.sub, (streamlog_sub_stats_v2 *)(void *)sbuf));
    ck_assert_uint_eq(size_of(sbuf), size);
    memcpy(&v, sbuf + offsetof(streamlog_sub_stats_v2, next_seq), 8);
    ck_assert_uint_eq(v, 4);
    ck_assert(all_bytes(sbuf + size, sizeof sbuf - size, 0xA5));

    unsigned char gbuf[sizeof(streamlog_group_stats_v2) + SLACK];
    size = 12; /* size, kind and half a field: a prefix is a prefix */
    prepare(gbuf, sizeof gbuf, size);
    TU_OK(streamlog_group_get_stats_v2(f.ch, STREAMLOG_GROUP_DURABLE, "d", (streamlog_group_stats_v2 *)(void *)gbuf));
    ck_assert_uint_eq(size_of(gbuf), size);
    uint32_t kind;
    memcpy(&kind, gbuf + 4, 4);
    ck_assert_uint_eq(kind, STREAMLOG_GROUP_DURABLE);
    ck_assert(all_bytes(gbuf + size, sizeof gbuf - size, 0xA5));
    teardown_fixture(&f);
}
END_TEST

/* A newer caller's struct: our fields, then zeros up to its size; size says ours. */
START_TEST(larger_size_is_zero_filled)
{
    struct fixture f;
    setup_fixture(&f);
    unsigned char buf[sizeof(streamlog_channel_stats_v2) + SLACK + 8];
    uint32_t size = sizeof(streamlog_channel_stats_v2) + SLACK;
    prepare(buf, sizeof buf, size);
    TU_OK(streamlog_channel_get_stats_v2(f.ch, (streamlog_channel_stats_v2 *)(void *)buf));
    streamlog_channel_stats_v2 cs;
    memcpy(&cs, buf, sizeof cs);
    ck_assert_uint_eq(cs.size, sizeof cs);
    ck_assert(cs.first_seq == 1 && cs.last_seq == 3 && cs.msgs == 3 && cs.bytes == 6 && cs.subs == 1);
    ck_assert_msg(all_bytes(buf + sizeof cs, SLACK, 0), "the caller's newer fields are not zeroed");
    ck_assert_msg(all_bytes(buf + size, 8, 0xA5), "bytes past the caller's size were written");

    unsigned char sbuf[sizeof(streamlog_sub_stats_v2) + SLACK];
    prepare(sbuf, sizeof sbuf, sizeof sbuf);
    TU_OK(streamlog_sub_get_stats_v2(f.sub, (streamlog_sub_stats_v2 *)(void *)sbuf));
    ck_assert_uint_eq(size_of(sbuf), sizeof(streamlog_sub_stats_v2));
    ck_assert(all_bytes(sbuf + sizeof(streamlog_sub_stats_v2), SLACK, 0));

    unsigned char gbuf[sizeof(streamlog_group_stats_v2) + SLACK];
    prepare(gbuf, sizeof gbuf, sizeof gbuf);
    TU_OK(streamlog_group_get_stats_v2(f.ch, STREAMLOG_GROUP_DURABLE, "d", (streamlog_group_stats_v2 *)(void *)gbuf));
    ck_assert_uint_eq(size_of(gbuf), sizeof(streamlog_group_stats_v2));
    ck_assert(all_bytes(gbuf + sizeof(streamlog_group_stats_v2), SLACK, 0));
    teardown_fixture(&f);
}
END_TEST

/* Sizes below the first two words or above 4096 (an unset size, most often): EINVAL, nothing written. */
START_TEST(sizes_out_of_range_are_einval)
{
    struct fixture f;
    setup_fixture(&f);
    static const uint32_t bad[] = {0, 4, 7, 4097, 0xA5A5A5A5u, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned char buf[sizeof(streamlog_sub_stats_v2)];
        prepare(buf, sizeof buf, bad[i]);
        TU_RC(streamlog_channel_get_stats_v2(f.ch, (streamlog_channel_stats_v2 *)(void *)buf), STREAMLOG_EINVAL);
        ck_assert_ptr_nonnull(strstr(streamlog_errmsg(), "size"));
        ck_assert_uint_eq(size_of(buf), bad[i]);
        ck_assert(all_bytes(buf + 4, sizeof buf - 4, 0xA5));
        TU_RC(streamlog_sub_get_stats_v2(f.sub, (streamlog_sub_stats_v2 *)(void *)buf), STREAMLOG_EINVAL);
        TU_RC(streamlog_group_get_stats_v2(f.ch, STREAMLOG_GROUP_DURABLE, "d", (streamlog_group_stats_v2 *)(void *)buf),
              STREAMLOG_EINVAL);
        ck_assert_uint_eq(size_of(buf), bad[i]);
        ck_assert(all_bytes(buf + 4, sizeof buf - 4, 0xA5));
    }
    streamlog_channel_stats_v2 cs = {.size = sizeof cs};
    TU_RC(streamlog_channel_get_stats_v2(NULL, &cs), STREAMLOG_EINVAL);
    TU_RC(streamlog_channel_get_stats_v2(f.ch, NULL), STREAMLOG_EINVAL);
    TU_RC(streamlog_sub_get_stats_v2(NULL, NULL), STREAMLOG_EINVAL);
    TU_RC(streamlog_group_get_stats_v2(f.ch, STREAMLOG_GROUP_DURABLE, NULL, NULL), STREAMLOG_EINVAL);
    streamlog_group_stats_v2 gs = {.size = sizeof gs};
    TU_RC(streamlog_group_get_stats_v2(f.ch, STREAMLOG_GROUP_DURABLE, "nope", &gs), STREAMLOG_ENOTFOUND);
    ck_assert_uint_eq(gs.size, sizeof gs); /* written only on success */
    ck_assert_uint_eq(gs.next_seq, 0);
    teardown_fixture(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stats_v2");
    TCase *tc = tu_tcase("stats_v2", 0);
    tcase_add_test(tc, full_size_matches_frozen_functions);
    tcase_add_test(tc, smaller_size_gets_its_prefix_only);
    tcase_add_test(tc, larger_size_is_zero_filled);
    tcase_add_test(tc, sizes_out_of_range_are_einval);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
